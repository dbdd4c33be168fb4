//! Real programs Debian ships, each run natively and under `trapbox run` with the policy a
//! newcomer would write (`--allow-exec /usr --allow-write <the scratch dir>`, `--net loopback`
//! for curl), comparing exit status, stdout and stderr (trapbox's own lines go to `--log`, so
//! the guest's stderr is exactly what it would be natively). As root every comparison runs
//! again as `nobody` (native and trapped alike), the rootless case.
//!
//! Every program but Java and node is installed by `scripts/setup.sh`; a missing one fails the
//! test saying so. Java and node are tested if the machine has them (else the test says why
//! it did nothing).

mod run_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use run_support::{is_root, trapbox_run, unprivileged_copies};
use trapbox_tests::{run, scratch_dir, Outcome};

/// The uid and gid the rootless runs use.
const NOBODY: u32 = 65534;

/// `/usr/bin/NAME`, which `scripts/setup.sh` installs.
fn installed(name: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(name);
    assert!(path.exists(), "{} is missing: run `bash scripts/setup.sh` (it installs the Debian package)", path.display());
    path
}

/// Who runs a comparison: the invoking user, and as root also nobody.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum User {
    Invoker,
    Nobody,
}

fn users() -> Vec<User> {
    if is_root() {
        vec![User::Invoker, User::Nobody]
    } else {
        vec![User::Invoker]
    }
}

/// One comparison: the files a run starts from (written afresh into `work/` before each
/// run), the program, its arguments, and policy flags beyond the newcomer's base policy.
struct Case<'a> {
    name: &'a str,
    program: PathBuf,
    args: Vec<String>,
    files: Vec<(&'a str, String)>,
    flags: Vec<String>,
}

impl<'a> Case<'a> {
    fn new(name: &'a str, program: PathBuf, args: &[&str]) -> Self {
        Case { name, program, args: args.iter().map(|s| s.to_string()).collect(), files: vec![], flags: vec![] }
    }
    fn file(mut self, path: &'a str, text: &str) -> Self {
        self.files.push((path, text.to_string()));
        self
    }
    fn flags(mut self, flags: &[&str]) -> Self {
        self.flags.extend(flags.iter().map(|s| s.to_string()));
        self
    }
}

/// What one user's pair of runs gave.
struct Compared {
    user: User,
    native: Outcome,
    trapped: Outcome,
    /// trapbox's own lines (`--log`).
    log: String,
    /// The directory both runs ran in.
    work: PathBuf,
}

/// Writes `files` into a fresh `work`, owned by the user who will run in it.
fn fresh_work(work: &Path, files: &[(&str, String)], user: User) {
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work).expect("create work dir");
    for (path, text) in files {
        let file = work.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).expect("create parent");
        std::fs::write(&file, text).expect("write file");
    }
    if user == User::Nobody {
        chown_tree(work);
    }
}

fn chown_tree(path: &Path) {
    std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY)).expect("chown");
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).expect("read dir") {
            chown_tree(&entry.expect("entry").path());
        }
    }
}

/// The same environment for both runs: nothing of cargo's or the invoker's.
fn set_env(cmd: &mut Command, work: &Path) {
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", work)
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .env("TZ", "UTC")
        .current_dir(work);
}

fn as_nobody(host_program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(host_program);
    cmd
}

/// Runs `case` natively and under trapbox, as each user; returns both outcomes per user.
fn compare(case: &Case) -> Vec<Compared> {
    let mut results = Vec::new();
    for user in users() {
        let base = scratch_dir(&format!("programs_{}_{user:?}", case.name).to_lowercase());
        let work = base.join("work");
        let log = base.join("trapbox.log");
        let work_text = work.to_str().expect("utf-8 path").to_string();
        let mut flags: Vec<String> = ["--allow-exec", "/usr", "--allow-write", &work_text, "--log"].iter().map(|s| s.to_string()).collect();
        flags.push(log.to_str().unwrap().to_string());
        flags.extend(case.flags.iter().map(|f| f.replace("{work}", &work_text)));
        let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
        let args: Vec<String> = case.args.iter().map(|a| a.replace("{work}", &work_text)).collect();
        let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();

        fresh_work(&work, &case.files, user);
        let native = match user {
            User::Invoker => {
                let mut cmd = Command::new(&case.program);
                cmd.args(&arg_refs);
                set_env(&mut cmd, &work);
                run(&mut cmd)
            }
            User::Nobody => {
                // The host's copy, runnable by nobody, beside `work` (made 0777 with it).
                let (host, _) = unprivileged_copies(&base, &case.program, &[]);
                std::fs::write(base.join("host-path"), host.to_str().unwrap()).unwrap();
                let mut cmd = as_nobody(&case.program);
                cmd.args(&arg_refs);
                set_env(&mut cmd, &work);
                run(&mut cmd)
            }
        };

        fresh_work(&work, &case.files, user);
        let _ = std::fs::remove_file(&log);
        let trapped = match user {
            User::Invoker => {
                let mut cmd = trapbox_run(&flag_refs, &case.program, &arg_refs);
                set_env(&mut cmd, &work);
                run(&mut cmd)
            }
            User::Nobody => {
                let host = PathBuf::from(std::fs::read_to_string(base.join("host-path")).unwrap());
                let mut cmd = as_nobody(&host);
                cmd.arg("run").args(&flag_refs).arg("--").arg(&case.program).args(&arg_refs);
                set_env(&mut cmd, &work);
                run(&mut cmd)
            }
        };
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        results.push(Compared { user, native, trapped, log, work });
    }
    results
}

/// Runs `case` both ways and asserts the same status, stdout and stderr, and that the native
/// run succeeded as `expected_status` says (so a broken script cannot pass by failing alike).
fn same_as_native(case: &Case, expected_status: i32) -> Vec<Compared> {
    let results = compare(case);
    for r in &results {
        assert_eq!(r.native.status, expected_status, "{} as {:?}, native: {:?}", case.name, r.user, r.native);
        assert_eq!(
            (r.trapped.status, r.trapped.stdout.as_str(), r.trapped.stderr.as_str()),
            (r.native.status, r.native.stdout.as_str(), r.native.stderr.as_str()),
            "{} as {:?} differs from native (left: trapbox, right: native); trapbox's log:\n{}",
            case.name,
            r.user,
            r.log
        );
    }
    results
}

const PYTHON: &str = r#"
import tempfile, subprocess, json, sqlite3, os, hashlib
with tempfile.TemporaryDirectory() as d:
    p = os.path.join(d, "x.json")
    with open(p, "w") as f:
        json.dump({"a": [1, 2, 3], "b": {"c": None}}, f)
    with open(p) as f:
        print(json.load(f))
    print("in the guest's tmp:", d.startswith("/tmp/"))
with tempfile.NamedTemporaryFile("w", dir=".", delete=False) as f:
    f.write("pear\napple\nfig\n")
    name = f.name
print(subprocess.run(["sort", name], capture_output=True, text=True, check=True).stdout, end="")
print(subprocess.run(["wc", "-l"], input="a\nb\n", capture_output=True, text=True).stdout.strip())
os.unlink(name)
try:
    subprocess.run(["no-such-program-anywhere"])
except OSError as e:
    print(type(e).__name__, e.errno)
db = sqlite3.connect("t.db")
db.execute("create table t(x integer, y text)")
db.executemany("insert into t values(?, ?)", [(i, str(i * i)) for i in range(500)])
db.execute("create index t_y on t(y)")
db.commit()
print(db.execute("select count(*), sum(x) from t where y like '1%'").fetchone())
db.close()
os.makedirs("w/a/b", exist_ok=True)
os.makedirs("w/a/b", exist_ok=True)
with open("w/a/b/f", "w") as f:
    f.write("hi")
with open("w/g", "w") as f:
    f.write("there")
for root, dirs, files in sorted(os.walk(".")):
    print(root, sorted(dirs), sorted(files))
h = hashlib.sha256()
for path in ["w/a/b/f", "w/g"]:
    with open(path, "rb") as f:
        h.update(f.read())
print(h.hexdigest(), hashlib.md5(b"x").hexdigest())
print(os.path.realpath("w/a/../g") == os.path.join(os.getcwd(), "w/g"), os.access("w", os.W_OK))
"#;

#[test]
fn python3_with_tempfile_subprocess_json_sqlite_walk_and_hashlib() {
    let case = Case::new("python3", installed("python3"), &["-I", "script.py"]).file("script.py", PYTHON);
    let results = same_as_native(&case, 0);
    assert!(results[0].native.stdout.contains("in the guest's tmp: True\napple\nfig\npear\n2\nFileNotFoundError 2\n"), "{:?}", results[0].native);
}

const PERL: &str = r#"
use strict; use warnings; use File::Find; use Cwd;
my $before = getcwd();
my @found;
find(sub { push @found, $File::Find::name; }, "tree");
print join("\n", sort @found), "\n";
print "back in the cwd: ", (getcwd() eq $before ? "yes" : "no"), "\n";
finddepth({ wanted => sub { print "depth $_\n" if -f }, no_chdir => 1 }, "tree");
open my $fh, "<", "tree/a/notes.txt" or die "open: $!";
while (<$fh>) { print "match $1=$2\n" if /^(\w+)=(\d+)$/ && $2 > 5 }
close $fh;
(my $text = do { local (@ARGV, $/) = "tree/a/notes.txt"; <> }) =~ s/(\d+)/<$1>/g;
print $text;
opendir my $dh, "." or die; print join(",", sort grep { !/^\./ } readdir $dh), "\n";
exit 6;
"#;

#[test]
fn perl_file_find_returns_to_the_cwd_and_a_regex_over_a_file() {
    let case = Case::new("perl", installed("perl"), &["script.pl"])
        .file("script.pl", PERL)
        .file("tree/a/notes.txt", "x=1\ny=7\nz=9\nw=3\n")
        .file("tree/a/b/c", "")
        .file("tree/d", "d");
    let results = same_as_native(&case, 6);
    assert!(results[0].native.stdout.contains("back in the cwd: yes\n"), "{:?}", results[0].native);
    assert!(results[0].native.stdout.contains("match y=7\nmatch z=9\n"), "{:?}", results[0].native);
}

const GIT: &str = r#"
set -e
export GIT_AUTHOR_NAME=Ann GIT_AUTHOR_EMAIL=ann@example.org GIT_COMMITTER_NAME=Ann GIT_COMMITTER_EMAIL=ann@example.org
export GIT_AUTHOR_DATE=2020-01-01T00:00:00Z GIT_COMMITTER_DATE=2020-01-01T00:00:00Z GIT_CONFIG_NOSYSTEM=1
mkdir repo && cd repo
git init -q -b main .
echo hello > a.txt; mkdir d; echo world > d/b.txt
git add .
git status --short
git commit -q -m first
echo more >> a.txt; echo new > c.txt
git status --short
git add -A && git commit -q -m second
git log --format='%H %an %ad %s' --date=iso-strict
git status
git rev-parse 'HEAD^{tree}'
git cat-file -p HEAD:d/b.txt
git diff --stat HEAD~1
git branch -q side && git checkout -q side && git rm -q d/b.txt && git commit -q -m third
git checkout -q main && git merge -q --no-edit side && git log --oneline | wc -l
git gc -q && git fsck --no-progress 2>&1
"#;

#[test]
fn git_init_add_commit_log_status_in_the_scratch_dir() {
    let case = Case::new("git", installed("bash"), &["script.sh"]).file("script.sh", GIT);
    installed("git");
    let results = same_as_native(&case, 0);
    assert!(results[0].native.stdout.contains("On branch main\nnothing to commit, working tree clean\n"), "{:?}", results[0].native);
}

const MAKE: &str = r#"
set -e
make -j2 -s
ls
./prog first second || echo "prog exited $?"
make -s && echo "up to date"
make -s clean && make -j2 -s && ls *.o
"#;

#[test]
fn gcc_and_make_j2_build_and_run_a_two_file_program() {
    let case = Case::new("make", installed("bash"), &["build.sh"])
        .file("build.sh", MAKE)
        .file("main.c", "#include <stdio.h>\nint add(int, int);\nint main(int c, char **v) { printf(\"%s: %d\\n\", v[c - 1], add(40, c)); return 3; }\n")
        .file("add.c", "int add(int a, int b) { return a + b; }\n")
        .file("Makefile", "all: prog\nprog: main.o add.o\n\tgcc -o $@ main.o add.o\n%.o: %.c\n\tgcc -O2 -c -o $@ $<\nclean:\n\trm -f prog *.o\n")
        // The program it builds runs from the scratch dir.
        .flags(&["--allow-exec", "{work}"]);
    installed("gcc");
    installed("make");
    let results = same_as_native(&case, 0);
    assert!(results[0].native.stdout.contains("second: 43\nprog exited 3\n"), "{:?}", results[0].native);
}

const SQL: &str = "create table t(id integer primary key, name text, n integer);
insert into t(name, n) values ('a', 3), ('b', 1), ('c', 2);
create index t_n on t(n);
insert into t(name, n) select name || 'x', n + 10 from t;
insert into t(name, n) select name || 'y', n + 20 from t;
create index t_name on t(name, n);
select name, n from t order by n;
select count(*) from t where n > 2;
pragma integrity_check;
";

/// The issue's case: `create index` sorts through a temporary file, which needed a TMPDIR.
#[test]
fn sqlite3_create_index_insert_select() {
    let case = Case::new("sqlite3", installed("sqlite3"), &["-bail", "db.sqlite", ".read schema.sql"]).file("schema.sql", SQL);
    let results = same_as_native(&case, 0);
    assert!(results[0].native.stdout.ends_with("axy|33\n10\nok\n"), "{:?}", results[0].native);
}

const COREUTILS: &str = r#"
printf 'pear\napple\npear\nfig\napple\npear\n' > fruit
sort fruit | uniq -c
sort -r fruit | uniq | wc -l
wc fruit
sha256sum fruit
mkdir -p src/a/b && echo x > src/a/b/f && ln -s a/b/f src/link && echo y > src/a/g
cp -r src dst
cp -a src dst2
touch -h -d '2001-02-03 04:05:06' dst/link
touch -d '2001-02-03 04:05:06' dst dst/a dst/a/b dst/a/b/f dst/a/g fruit
ls -la --time-style=+ dst dst/a | sed 's/^\(\S*\) *[0-9]* \S* \S* /\1 /'
find . -type f | sort
find dst -newer fruit | sort
find . -name '*f*' -type f -printf '%p %s\n' | sort
readlink -f dst/link
readlink -f dst/a/../link
realpath dst/link src/../fruit
realpath -s dst/link
readlink dst/link; readlink fruit; echo "readlink of a file: $?"
readlink -e missing; echo "readlink -e of a missing file: $?"
du -s dst | cut -f2
stat -c '%s %F %n' fruit dst/link dst/a
stat -L -c '%s %F' dst/link
mkdir -p src/a/b new/x/y && ls -d new/x/y
mv dst2 moved && rm -r moved && ls
ln fruit hard && stat -c '%h' fruit
chmod 640 fruit && stat -c '%a' fruit
df -P . >/dev/null && echo df ok
"#;

#[test]
fn coreutils_over_a_scratch_tree() {
    let case = Case::new("coreutils", installed("bash"), &["script.sh"]).file("script.sh", COREUTILS);
    let results = same_as_native(&case, 0);
    let out = &results[0].native.stdout;
    assert!(out.contains("      2 apple\n      1 fig\n      3 pear\n3\n"), "{out}");
    assert!(out.contains(&format!("{}/dst/a/b/f\n", results[0].work.display())), "{out}");
}

/// A one-file HTTP/1.0 server on 127.0.0.1 (a port of its own): `/hello.txt` and 404.
fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let (status, body) = match request.split_whitespace().nth(1) {
                Some("/hello.txt") => ("200 OK", "hello from the server\n"),
                _ => ("404 Not Found", "no such page\n"),
            };
            let _ = write!(stream, "HTTP/1.0 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        }
    });
    port
}

#[test]
fn curl_from_a_local_server_under_net_loopback() {
    let port = http_server();
    let script = format!(
        "curl -sS -o got.txt -w '%{{http_code}} %{{size_download}}\\n' http://127.0.0.1:{port}/hello.txt && cat got.txt\n\
         curl -sS -i http://localhost:{port}/missing | tr -d '\\r'\n\
         curl -sSf http://127.0.0.1:{port}/missing; echo \"curl -f: $?\"\n"
    );
    let case = Case::new("curl", installed("bash"), &["script.sh"]).file("script.sh", &script).flags(&["--net", "loopback"]);
    installed("curl");
    let results = same_as_native(&case, 0);
    assert!(results[0].native.stdout.starts_with("200 22\nhello from the server\nHTTP/1.0 404 Not Found\n"), "{:?}", results[0].native);

    // Without a network grant the same fetch is refused, and the log says why.
    let case = Case::new("curl_none", installed("curl"), &["-sS", &format!("http://127.0.0.1:{port}/hello.txt")]);
    for r in compare(&case) {
        assert_eq!(r.native.stdout, "hello from the server\n", "{:?}", r.native);
        assert_eq!(r.trapped.status, 7, "{:?}", r.trapped);
        assert!(r.log.contains("trapbox: denied socket(2, 1, 6): address family 2 is not granted under --net none"), "{}", r.log);
    }
}

const BASH: &str = r#"
set -u
out=$PWD/bash-out
trap 'echo "exit trap: $?"; rm -rf "$out"' EXIT
mkdir -p "$out"
greet() { local who=$1; printf 'hello, %s\n' "$who"; }
count_lines() { wc -l < "$1"; }
greet world
seq 1 20 | grep 3 | tr '\n' ' '; echo
seq 1 5 > "$out/a"; seq 3 7 > "$out/b"
comm -12 <(sort "$out/a") <(sort "$out/b") | paste -sd,
diff <(seq 1 3) <(seq 1 4); echo "diff: $?"
tee >(wc -c > "$out/count") < "$out/a" > /dev/null; wait $!; cat "$out/count"
cat <<DOC > "$out/doc"
unset: ${who:-none}
sum: $((6 * 7))
DOC
cat <<'RAW'
literal $HOME $(date)
RAW
cat "$out/doc"
echo "lines: $(count_lines "$out/doc")"
while read -r n; do echo "read $n"; done < <(printf '1\n2\n')
{ echo to-stderr >&2; } 2>&1 | sed 's/^/captured: /'
echo "really to stderr" >&2
arr=(c a b); mapfile -t sorted < <(printf '%s\n' "${arr[@]}" | sort); echo "${sorted[@]}"
exec 3> "$out/fd3"; echo via-fd3 >&3; exec 3>&-; cat "$out/fd3"
( exit 4 ); echo "subshell: $?"
sleep 0.1 & wait $!; echo "background: $?"
false | true; echo "pipestatus: ${PIPESTATUS[*]}"
cd /tmp && pwd && cd - > /dev/null
[[ -d /proc/self/fd ]] && echo "has /proc/self/fd"
exit 5
"#;

#[test]
fn bash_functions_pipes_process_substitution_heredocs_and_an_exit_trap() {
    let case = Case::new("bash", installed("bash"), &["script.sh"]).file("script.sh", BASH);
    let results = same_as_native(&case, 5);
    for r in &results {
        assert!(r.native.stdout.contains("3,4,5\n") && r.native.stdout.ends_with("exit trap: 5\n"), "{:?}", r.native);
        assert_eq!(r.native.stderr, "really to stderr\n");
        assert!(!r.work.join("bash-out").exists(), "the EXIT trap removed its directory");
    }
}

const JAVA: &str = r#"
import java.nio.file.*;
import java.util.*;
public class Hello {
    public static void main(String[] args) throws Exception {
        Path d = Paths.get("jdata");
        Files.createDirectories(d.resolve("x/y"));
        Files.writeString(d.resolve("x/y/f.txt"), "hi\n");
        try (var s = Files.walk(d)) { s.map(Path::toString).sorted().forEach(System.out::println); }
        System.out.println(d.resolve("x/..").toRealPath());
        System.out.println(new java.io.File(".").getCanonicalPath());
        Process p = new ProcessBuilder("sort").redirectErrorStream(true).start();
        p.getOutputStream().write("b\na\n".getBytes());
        p.getOutputStream().close();
        System.out.print(new String(p.getInputStream().readAllBytes()));
        System.out.println("sort: " + p.waitFor());
        System.out.println(String.join(",", new TreeSet<>(List.of("c", "a", "b"))));
        Path t = Files.createTempFile("j", ".t");
        System.out.println(t.getParent() + " " + Files.size(t));
        System.exit(3);
    }
}
"#;

/// `java -version` and a small program built with `javac`, if the machine has a JDK, under
/// `--allow-exec /usr` alone: Debian's JDK keeps its configuration in `/etc/java-N-openjdk`
/// (linked from `/usr/lib/jvm/…/conf` and `lib/jvm.cfg`), which the base reads.
#[test]
fn java_version_and_a_small_program_if_the_machine_has_a_jdk() {
    let (java, javac) = (Path::new("/usr/bin/java"), Path::new("/usr/bin/javac"));
    if !java.exists() || !javac.exists() {
        eprintln!("no JDK on this machine (/usr/bin/java, /usr/bin/javac): nothing to compare");
        return;
    }
    let script = "java -version 2>&1 | head -1 | cut -d' ' -f1-2\njavac -d . Hello.java && java -cp . Hello; echo \"java: $?\"\n";
    let case = Case::new("java", installed("bash"), &["script.sh"])
        .file("script.sh", script)
        .file("Hello.java", JAVA);
    let results = same_as_native(&case, 0);
    assert!(results[0].native.stdout.contains("a\nb\nsort: 0\na,b,c\n/tmp 0\njava: 3\n"), "{:?}", results[0].native);
}

const NODE: &str = r#"
const fs = require('fs'), cp = require('child_process'), path = require('path'), os = require('os');
fs.mkdirSync('nd/a', { recursive: true });
fs.mkdirSync('nd/a', { recursive: true });
fs.writeFileSync('nd/a/f.txt', 'x\n');
fs.symlinkSync('a/f.txt', 'nd/l');
console.log(fs.realpathSync('nd/l'), fs.realpathSync.native('nd/l'), fs.realpathSync('.') === process.cwd());
console.log(cp.execFileSync('sort', { input: 'b\na\n' }).toString().trim());
console.log(cp.execFileSync('/usr/bin/sha256sum', ['nd/a/f.txt']).toString().trim());
try { cp.execFileSync('no-such-program-anywhere', { stdio: 'ignore' }); } catch (e) { console.log(e.code); }
try { cp.execFileSync('false'); } catch (e) { console.log('false:', e.status); }
console.log(fs.readdirSync('nd').sort().join(','), os.tmpdir(), fs.readlinkSync('nd/l'));
try { fs.readlinkSync('nd/a/f.txt'); } catch (e) { console.log(e.code); }
const t = fs.mkdtempSync(path.join(os.tmpdir(), 'n-'));
fs.writeFileSync(t + '/q', 'q');
console.log(fs.readFileSync(t + '/q', 'utf8'), fs.statSync('nd/a/f.txt').size);
process.exitCode = 4;
"#;

/// node's fs.realpathSync (JS and native) and child_process, if the machine has node.
#[test]
fn node_realpath_and_exec_file_sync_if_the_machine_has_node() {
    let node = Path::new("/usr/bin/node");
    if !node.exists() {
        eprintln!("no node on this machine (/usr/bin/node): nothing to compare");
        return;
    }
    let case = Case::new("node", node.to_path_buf(), &["script.js"]).file("script.js", NODE);
    let results = same_as_native(&case, 4);
    let f = format!("{}/nd/a/f.txt", results[0].work.display());
    assert!(results[0].native.stdout.starts_with(&format!("{f} {f} true\na\nb\n")), "{:?}", results[0].native);
}

/// `mkdir` of a directory on the way to a grant (which a stat shows exists) is `EEXIST`, as
/// natively: the kernel answers that before any permission check. It was `EACCES`, so
/// `mkdir DIR` said "Permission denied" where natively it says "File exists".
#[test]
fn mkdir_of_an_existing_directory_above_the_grant_is_eexist() {
    let script = "d=$PWD; while [ \"$d\" != / ]; do d=$(dirname \"$d\"); mkdir \"$d\"; echo \"$d: $?\"; done\n\
                  mkdir .; mkdir \"$PWD\"; mkdir /usr /usr/bin\n\
                  python3 -I -c 'import os\ntry: os.mkdir(os.path.dirname(os.getcwd()))\nexcept OSError as e: print(e.strerror)'\n";
    let case = Case::new("mkdir", installed("bash"), &["script.sh"]).file("script.sh", script);
    let results = same_as_native(&case, 0);
    for r in &results {
        assert!(r.native.stderr.contains(&format!("mkdir: cannot create directory ‘{}’: File exists", r.work.parent().unwrap().display())), "{:?}", r.native);
        assert!(!r.log.contains("denied mkdir"), "{}", r.log);
    }
}

/// util-linux `script` runs a shell on a pty of its own (`TIOCGPTPEER`, then `TIOCSCTTY` with
/// force, as it passes it): inside, the shell's stdin is that terminal and its controlling
/// one, as natively (the pty's number is the guest's own devpts's).
#[test]
fn script_gives_its_shell_a_terminal_of_its_own() {
    let script = installed("script");
    let dir = scratch_dir("programs_script");
    let probe = "tty; ps -o tty= -p $$; stty size >/dev/null && echo stty ok";
    let shape = |out: &Outcome| -> Vec<String> {
        out.stdout.replace("\r\n", "\n").lines().map(|l| l.trim().chars().filter(|c| !c.is_ascii_digit()).collect()).collect()
    };
    let native = run(Command::new(&script).args(["-qc", probe, "/dev/null"]).current_dir(&dir));
    assert_eq!(shape(&native), ["/dev/pts/", "pts/", "stty ok"], "the native run itself: {native:?}");
    let out = run(trapbox_run(&["--quiet", "--allow-exec", "/usr/bin", "--allow-exec", "/bin"], &script, &["-qc", probe, "/dev/null"]).current_dir(&dir));
    assert_eq!((out.status, shape(&out)), (native.status, shape(&native)), "{out:?}");
}
