//! A transition's changes as SQL-ready operations. Encoding (JSON) happens in
//! the caller's task, before the job reaches the write connection, so the
//! serialized part of a commit only runs SQL.

use bosun_engine::{Change, StepRecord, StoreError};
use rusqlite::{Connection, params};

use super::compact::encode_steps;
use super::steps::append_steps;
use super::to_json;
use crate::sql_error;

/// One write, with its JSON already encoded.
#[derive(Debug)]
pub(crate) enum Op {
    Create {
        id: String,
        document_name: String,
        status: &'static str,
        terminal: bool,
        created_at: String,
        record: String,
        document: String,
    },
    Update {
        id: String,
        status: &'static str,
        record: String,
    },
    End {
        id: String,
        status: &'static str,
        record: String,
        steps: String,
    },
    /// Step records of one execution, as one step-log row (in the form of `compact`).
    Steps {
        execution_id: String,
        records: String,
    },
    AddSignal {
        id: String,
        execution_id: String,
        created_at: String,
        record: String,
    },
    ConsumeSignal {
        id: String,
    },
}

/// Encodes a transition. Step records go to the step log as one row per execution,
/// except for an execution that ends in the same changes (its whole history comes
/// with its end). A terminal status only comes with an `EndExecution`.
pub(crate) fn encode(changes: Vec<Change>) -> Result<Vec<Op>, StoreError> {
    let ending: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::EndExecution { record, .. } => Some(record.id.clone()),
            _ => None,
        })
        .collect();
    let mut ops = Vec::with_capacity(changes.len());
    let mut steps: Vec<(String, Vec<StepRecord>)> = Vec::new();
    for change in changes {
        match change {
            Change::CreateExecution { record, document } => ops.push(Op::Create {
                status: record.status.as_str(),
                terminal: record.status.is_terminal(),
                created_at: record.created_at.to_rfc3339(),
                record: to_json(&record)?,
                document: to_json(&document)?,
                id: record.id,
                document_name: record.document_name,
            }),
            Change::UpdateExecution(record) if record.status.is_terminal() => {
                return Err(StoreError(format!("execution {} cannot end without its step history", record.id)));
            }
            Change::UpdateExecution(record) => {
                ops.push(Op::Update { status: record.status.as_str(), record: to_json(&record)?, id: record.id })
            }
            Change::EndExecution { record, steps } => {
                ops.push(Op::End { status: record.status.as_str(), record: to_json(&record)?, steps: encode_steps(&steps)?, id: record.id })
            }
            Change::PutStep(step) if ending.contains(&step.execution_id) => {}
            Change::PutStep(step) => match steps.iter_mut().find(|(id, _)| *id == step.execution_id) {
                Some((_, records)) => records.push(step),
                None => steps.push((step.execution_id.clone(), vec![step])),
            },
            Change::AddSignal(signal) => ops.push(Op::AddSignal {
                created_at: signal.created_at.to_rfc3339(),
                record: to_json(&signal)?,
                id: signal.id,
                execution_id: signal.execution_id,
            }),
            Change::ConsumeSignal { id } => ops.push(Op::ConsumeSignal { id }),
        }
    }
    for (execution_id, records) in steps {
        ops.push(Op::Steps { records: encode_steps(&records)?, execution_id });
    }
    Ok(ops)
}

/// Runs the operations on the write connection, inside the caller's transaction.
pub(crate) fn apply(conn: &Connection, ops: &[Op]) -> Result<(), StoreError> {
    ops.iter().try_for_each(|op| apply_one(conn, op))
}

/// True when the operations end an execution, after which housekeeping has work.
pub(crate) fn ends_an_execution(ops: &[Op]) -> bool {
    ops.iter().any(|op| matches!(op, Op::End { .. }))
}

fn apply_one(conn: &Connection, op: &Op) -> Result<(), StoreError> {
    match op {
        Op::Create { id, document_name, status, .. } => crate::events::emitted::automation_status(conn, id, Some(document_name), status)?,
        Op::Update { id, status, .. } | Op::End { id, status, .. } => crate::events::emitted::automation_status(conn, id, None, status)?,
        _ => {}
    }
    let changed = match op {
        Op::Create { id, document_name, status, terminal, created_at, record, document } => conn
            .prepare_cached(
                "INSERT INTO executions (id, document_name, status, terminal, created_at, record, log_first)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT COALESCE(MAX(id), 0) + 1 FROM step_log))",
            )
            .and_then(|mut s| s.execute(params![id, document_name, status, terminal, created_at, record]))
            .and_then(|_| conn.prepare_cached("INSERT INTO execution_documents (execution_no, document) VALUES (last_insert_rowid(), ?1)"))
            .and_then(|mut s| s.execute(params![document])),
        Op::Update { id, status, record } => conn
            .prepare_cached("UPDATE executions SET status = ?2, record = ?3 WHERE id = ?1 AND terminal = 0")
            .and_then(|mut s| s.execute(params![id, status, record])),
        Op::End { id, status, record, steps } => conn
            .prepare_cached("UPDATE executions SET status = ?2, terminal = 1, record = ?3, steps = ?4 WHERE id = ?1 AND terminal = 0")
            .and_then(|mut s| s.execute(params![id, status, record, steps])),
        Op::Steps { execution_id, records } => return append_steps(conn, execution_id, records),
        Op::AddSignal { id, execution_id, created_at, record } => conn
            .prepare_cached("INSERT INTO signals (id, execution_id, created_at, record) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![id, execution_id, created_at, record])),
        Op::ConsumeSignal { id } => {
            return conn
                .prepare_cached("DELETE FROM signals WHERE id = ?1")
                .and_then(|mut s| s.execute(params![id]))
                .map(drop)
                .map_err(sql_error);
        }
    }
    .map_err(sql_error)?;
    match op {
        Op::Update { id, .. } | Op::End { id, .. } if changed == 0 => Err(StoreError(format!("no running execution with id {id}"))),
        _ => Ok(()),
    }
}
