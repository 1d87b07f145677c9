//! Report bodies: an invocation's report is kept under a size budget, so the
//! server's body limit never turns a finished invocation into one that can
//! never be reported. Step outputs shrink first, largest first, keeping heads.

use bosun_protocol::InvocationStatus;
use bosun_protocol::agent::{InvocationReport, MAX_OUTPUT_BYTES};

use crate::exec::output::fit;

/// The most bytes a report body may take: both invocation streams at their limit,
/// and as much again for the steps' own outputs.
pub const REPORT_BUDGET: usize = 3 * MAX_OUTPUT_BYTES;

/// The report that acknowledges delivery.
pub fn in_progress() -> InvocationReport {
    InvocationReport {
        status: InvocationStatus::InProgress,
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        steps: Vec::new(),
    }
}

/// A terminal report with only a status and a reason.
pub fn terminal(status: InvocationStatus, message: impl Into<String>) -> InvocationReport {
    InvocationReport { status, exit_code: None, stdout: String::new(), stderr: message.into(), steps: Vec::new() }
}

/// Halves the largest outputs until the serialized report fits in `budget` bytes.
pub fn fit_body(mut report: InvocationReport, budget: usize) -> InvocationReport {
    loop {
        let size = serde_json::to_vec(&report).map_or(0, |v| v.len());
        if size <= budget {
            return report;
        }
        let mut fields: Vec<&mut String> = vec![&mut report.stdout, &mut report.stderr];
        for step in &mut report.steps {
            fields.push(&mut step.stdout);
            fields.push(&mut step.stderr);
        }
        let largest = fields.iter().map(|f| f.len()).max().unwrap_or(0);
        if largest < 1024 {
            return report;
        }
        let cap = largest / 2;
        for field in fields {
            if field.len() > cap {
                *field = fit(std::mem::take(field), cap, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bosun_protocol::agent::StepReport;

    use super::*;

    #[test]
    fn large_reports_shrink_to_the_budget() {
        let step = |n: &str| StepReport {
            name: n.into(),
            action: "aws:runShellScript".into(),
            status: InvocationStatus::Success,
            exit_code: Some(0),
            stdout: "o".repeat(40_000),
            stderr: "\u{1}".repeat(10_000),
            message: None,
        };
        let report = InvocationReport {
            status: InvocationStatus::Success,
            exit_code: Some(0),
            stdout: "x".repeat(80_000),
            stderr: String::new(),
            steps: vec![step("a"), step("b")],
        };
        let fitted = fit_body(report, 50_000);
        assert!(serde_json::to_vec(&fitted).unwrap().len() <= 50_000);
        assert!(fitted.stdout.starts_with("xxx") && fitted.stdout.contains("not kept"));
        assert_eq!(fitted.steps.len(), 2);
        let small = fit_body(terminal(InvocationStatus::Failed, "why"), 50_000);
        assert_eq!(small.stderr, "why");
    }
}
