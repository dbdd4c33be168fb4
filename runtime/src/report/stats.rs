//! `--stats`: per call and route, how many, how many failed and how long the host took, as
//! `strace -c` shows it, or as JSON for scripts.
//!
//! Each figure is added where a trace line is written ([`crate::report::trace::Record`]), so
//! the counts per call always equal the trace's lines per call. Time is the record's latency:
//! from the stop (or notification) to the answer.

use std::collections::HashMap;

use crate::report::trace::{CallEnd, Handling, Route};

/// The figures of one (call, route).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Calls.
    pub count: u64,
    /// Calls that failed (a `-errno` result, refusals included).
    pub errors: u64,
    /// Calls the host answered itself.
    pub host: u64,
    /// Calls the host refused.
    pub refused: u64,
    /// The sum of their latencies, nanoseconds.
    pub total_ns: u64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.count += other.count;
        self.errors += other.errors;
        self.host += other.host;
        self.refused += other.refused;
        self.total_ns = self.total_ns.saturating_add(other.total_ns);
    }
}

/// Every call's figures, by (number, route).
#[derive(Clone, Debug, Default)]
pub struct CallStats {
    rows: HashMap<(u64, Route), Tally>,
}

/// One row of the table and of the JSON `calls` list.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    /// The call's name.
    pub call: String,
    /// Its number.
    pub nr: u64,
    /// `trap`, `backstop` or `directfs`.
    pub route: &'static str,
    /// The figures.
    #[serde(flatten)]
    pub tally: Tally,
    /// Total latency, microseconds.
    pub total_us: f64,
    /// Mean latency, microseconds.
    pub mean_us: f64,
}

impl CallStats {
    /// Adds one ended call.
    pub fn add(&mut self, number: u64, route: Route, handling: Handling, end: CallEnd, latency_ns: u64) {
        let tally = self.rows.entry((number, route)).or_default();
        tally.count += 1;
        tally.errors += u64::from(end.failed());
        tally.host += u64::from(handling == Handling::Host);
        tally.refused += u64::from(handling == Handling::Refused);
        tally.total_ns = tally.total_ns.saturating_add(latency_ns);
    }

    /// Adds every figure of `other` (the directfs thread's).
    pub fn merge(&mut self, other: &CallStats) {
        for (key, tally) in &other.rows {
            self.rows.entry(*key).or_default().add(tally);
        }
    }

    /// The rows, most time first (then most calls, then by name).
    pub fn rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .rows
            .iter()
            .map(|(&(nr, route), &tally)| Row {
                call: crate::report::trace::call_name(nr).into_owned(),
                nr,
                route: route.name(),
                tally,
                total_us: tally.total_ns as f64 / 1e3,
                mean_us: tally.total_ns as f64 / 1e3 / tally.count.max(1) as f64,
            })
            .collect();
        rows.sort_by(|a, b| {
            b.tally.total_ns.cmp(&a.tally.total_ns).then(b.tally.count.cmp(&a.tally.count)).then_with(|| (&a.call, a.route).cmp(&(&b.call, b.route)))
        });
        rows
    }

    /// The sum of every row.
    pub fn total(&self) -> Tally {
        let mut total = Tally::default();
        for tally in self.rows.values() {
            total.add(tally);
        }
        total
    }

    /// The `strace -c`-shaped table, one line per row, then the total.
    pub fn table(&self) -> Vec<String> {
        let total = self.total();
        let share = |ns: u64| if total.total_ns == 0 { 0.0 } else { 100.0 * ns as f64 / total.total_ns as f64 };
        let mut lines = vec![format!("{:>6} {:>12} {:>9} {:>9} {:>9}  {:<9} {}", "% time", "total µs", "mean µs", "calls", "errors", "route", "call")];
        for row in self.rows() {
            lines.push(format!(
                "{:>6.2} {:>12.1} {:>9.2} {:>9} {:>9}  {:<9} {}",
                share(row.tally.total_ns),
                row.total_us,
                row.mean_us,
                row.tally.count,
                row.tally.errors,
                row.route,
                row.call
            ));
        }
        lines.push(format!(
            "{:>6.2} {:>12.1} {:>9.2} {:>9} {:>9}  {:<9} total",
            100.0,
            total.total_ns as f64 / 1e3,
            total.total_ns as f64 / 1e3 / total.count.max(1) as f64,
            total.count,
            total.errors,
            ""
        ));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trapbox_abi::linux::nr;

    #[test]
    fn figures_add_up_per_call_and_route() {
        let mut stats = CallStats::default();
        stats.add(nr::GETPID, Route::Trap, Handling::Executed, CallEnd::Value(7), 1_000);
        stats.add(nr::GETPID, Route::Trap, Handling::Executed, CallEnd::Value(7), 3_000);
        stats.add(nr::OPENAT, Route::Backstop, Handling::Refused, CallEnd::Value(trapbox_abi::errno::encode_error(13)), 500);
        let mut other = CallStats::default();
        other.add(nr::OPENAT, Route::Directfs, Handling::Executed, CallEnd::Value(3), 200);
        other.add(nr::OPENAT, Route::Backstop, Handling::Executed, CallEnd::Unknown, 100);
        stats.merge(&other);
        let rows = stats.rows();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].call.as_str(), rows[0].route, rows[0].tally.count, rows[0].mean_us), ("getpid", "trap", 2, 2.0));
        let refused = rows.iter().find(|r| r.route == "backstop").unwrap();
        assert_eq!((refused.tally.count, refused.tally.errors, refused.tally.refused), (2, 1, 1));
        assert_eq!(stats.total(), Tally { count: 5, errors: 1, host: 0, refused: 1, total_ns: 4_800 });
        let table = stats.table();
        assert_eq!(table.len(), 5, "{table:?}");
        assert!(table[4].ends_with("total") && table[4].contains(" 5 "), "{table:?}");
    }
}
