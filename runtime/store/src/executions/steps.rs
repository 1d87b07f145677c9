//! The step log: step records of running executions, appended in commit order
//! (see the schema), read back per execution, and purged once no running
//! execution needs the oldest rows.

use bosun_engine::{StepRecord, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use super::compact::decode_steps;
use crate::sql_error;

/// Appends one row of step records (a JSON array) for a running execution: one statement
/// that finds the execution and appends the row; only when nothing was appended, a lookup
/// says why.
pub(crate) fn append_steps(conn: &Connection, execution_id: &str, records: &str) -> Result<(), StoreError> {
    let appended = conn
        .prepare_cached("INSERT INTO step_log (execution_no, records) SELECT no, ?2 FROM executions WHERE id = ?1 AND terminal = 0")
        .and_then(|mut s| s.execute(params![execution_id, records]))
        .map_err(sql_error)?;
    if appended == 1 {
        return Ok(());
    }
    let found: Option<i64> = conn
        .prepare_cached("SELECT no FROM executions WHERE id = ?1")
        .and_then(|mut s| s.query_row(params![execution_id], |r| r.get(0)).optional())
        .map_err(sql_error)?;
    match found {
        None => Err(StoreError(format!("no execution with id {execution_id}"))),
        Some(_) => Err(StoreError(format!("execution {execution_id} has ended; its steps cannot change"))),
    }
}

/// Deletes the step-log rows below the first row any running execution may have: they
/// belong to executions that have ended, whose history is in `executions.steps`. The
/// newest row always stays, even when every execution has ended: a new execution's
/// `log_first` is one past the newest row, and keeping it means row ids never go back
/// below a `log_first` already handed out.
pub(crate) fn purge_step_log(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached(
        "DELETE FROM step_log WHERE id < MIN(
             COALESCE((SELECT MIN(log_first) FROM executions WHERE terminal = 0), (SELECT MAX(id) FROM step_log)),
             (SELECT MAX(id) FROM step_log))",
    )
    .and_then(|mut s| s.execute([]))
    .map_err(sql_error)?;
    Ok(())
}

/// The latest record of every step, in sequence order, from a running execution's rows.
pub(crate) fn load_steps(conn: &Connection, execution_id: &str, no: i64, log_first: i64) -> Result<Vec<StepRecord>, StoreError> {
    let rows: Vec<String> = conn
        .prepare_cached("SELECT records FROM step_log WHERE id >= ?1 AND execution_no = ?2 ORDER BY id")
        .and_then(|mut s| s.query_map(params![log_first, no], |r| r.get(0))?.collect())
        .map_err(sql_error)?;
    let mut steps: Vec<StepRecord> = Vec::new();
    for row in rows {
        for step in decode_steps(execution_id, &row)? {
            let seq = step.seq as usize;
            match seq.cmp(&steps.len()) {
                std::cmp::Ordering::Less => steps[seq] = step,
                std::cmp::Ordering::Equal => steps.push(step),
                std::cmp::Ordering::Greater => return Err(StoreError(format!("the step log skips from step {} to {seq}", steps.len()))),
            }
        }
    }
    Ok(steps)
}
