//! One transition of an execution: finish the current step with its outcome,
//! choose what comes next, begin it (interpolate its inputs, arm control flow),
//! and collect every change to commit as one transaction.

use std::sync::Arc;

use bosun_document::Step;
use bosun_document::interpolate::interpolate;
use bosun_document::params::ParamInput;
use bosun_document::selector::select;
use chrono::Utc;
use serde_json::{Map, Value};

use crate::control;
use crate::engine::{Engine, StartRequest};
use crate::error::EngineError;
use crate::flow::{Next, after_cancel, after_failure, after_success, end_status};
use crate::record::{Change, ParentRef, StepRecord};
use crate::resolve::ExecutionResolver;
use crate::run::{Outcome, Run};
use crate::status::{ExecutionStatus, StepStatus};
use crate::trace::TraceEvent;

enum Finish {
    /// The same step runs again (another attempt).
    Retry,
    Next(Next),
}

impl Engine {
    /// Applies `outcome` to the current step (if any), then follows `next` until a step
    /// has begun or the execution has ended. Returns the changes to commit.
    pub(crate) async fn transition(
        self: &Arc<Self>,
        run: &mut Run,
        mut outcome: Option<Outcome>,
        mut next: Option<Next>,
    ) -> Result<Vec<Change>, EngineError> {
        let mut changes = Vec::with_capacity(3);
        loop {
            if let Some(o) = outcome.take() {
                match self.finish(run, o, &mut changes) {
                    Finish::Retry => break,
                    Finish::Next(n) => next = Some(n),
                }
            }
            match next.take() {
                Some(Next::Step(_)) if run.steps.len() >= self.config.max_step_runs => {
                    let message = format!("the execution made {} step runs, the most allowed", run.steps.len());
                    self.finalize(run, ExecutionStatus::Failed, Some(message));
                    break;
                }
                Some(Next::Step(index)) => match self.begin(run, index, &mut changes).await {
                    Ok(()) => break,
                    Err(o) => outcome = Some(o),
                },
                Some(Next::End) => {
                    let status = end_status(run.was_cancelled(), run.critical_failure());
                    self.finalize(run, status, None);
                    break;
                }
                Some(Next::Stop(status)) => {
                    self.finalize(run, status, None);
                    break;
                }
                None => break,
            }
        }
        for id in run.consumed.drain(..) {
            changes.push(Change::ConsumeSignal { id });
        }
        if run.dirty {
            run.record.updated_at = Utc::now();
            run.dirty = false;
            changes.push(match run.record.status.is_terminal() {
                true => Change::EndExecution { record: run.record.clone(), steps: run.steps.clone() },
                false => Change::UpdateExecution(run.record.clone()),
            });
        }
        Ok(changes)
    }

    fn finish(&self, run: &mut Run, outcome: Outcome, changes: &mut Vec<Change>) -> Finish {
        let doc = Arc::clone(&run.doc);
        let Some(index) = run.current_index() else {
            return Finish::Next(Next::End);
        };
        let step = &doc.main_steps[index];
        let outcome = match outcome {
            Outcome::Success { response, goto } => match step_outputs(step, response) {
                Ok(outputs) => Outcome::Success { response: outputs, goto },
                Err(message) => Outcome::failed(message),
            },
            other => other,
        };
        let Some(record) = run.current_mut() else {
            return Finish::Next(Next::End);
        };
        let now = Utc::now();
        let next = match outcome {
            Outcome::Success { response, goto } => {
                record.status = StepStatus::Success;
                record.outputs = response;
                record.failure_message = None;
                after_success(&doc, index, goto.as_deref())
            }
            Outcome::Failed { message, .. } if record.attempt < step.max_attempts => {
                record.attempt += 1;
                record.failure_message = Some(message);
                record.status = StepStatus::InProgress;
                record.started_at = now;
                if let Err(o) = control::arm_local(record, now) {
                    return self.finish(run, o, changes);
                }
                let record = record.clone();
                self.emit(TraceEvent::step(&record, true));
                changes.push(Change::PutStep(record));
                return Finish::Retry;
            }
            Outcome::Failed { status, message } => {
                record.status = status;
                record.failure_message = Some(message);
                after_failure(&doc, index, status)
            }
            Outcome::Interrupted { message } => {
                record.status = StepStatus::Failed;
                record.failure_message = Some(message);
                after_failure(&doc, index, StepStatus::Failed)
            }
            Outcome::Cancelled => {
                record.status = StepStatus::Cancelled;
                record.failure_message = Some("cancelled".into());
                after_cancel(&doc, index)
            }
        };
        record.ended_at = Some(now);
        let record = record.clone();
        self.emit(TraceEvent::step(&record, false));
        changes.push(Change::PutStep(record));
        if matches!(run.current().map(|s| s.status), Some(StepStatus::Cancelled)) && matches!(next, Next::Step(_)) {
            run.set_status(ExecutionStatus::Cancelling);
        }
        Finish::Next(next)
    }

    /// Starts the step at `index`: a new record with interpolated inputs, armed for its
    /// action. An `Err` is the step's immediate outcome (it failed before running).
    async fn begin(self: &Arc<Self>, run: &mut Run, index: usize, changes: &mut Vec<Change>) -> Result<(), Outcome> {
        let doc = Arc::clone(&run.doc);
        let step = &doc.main_steps[index];
        let now = Utc::now();
        let inputs = {
            let resolver = ExecutionResolver {
                execution_id: &run.record.id,
                parameters: &run.record.parameters,
                steps: &run.steps,
                globals: &self.config.globals,
                now,
            };
            interpolate(&step.inputs, &resolver)
        };
        let seq = u32::try_from(run.steps.len()).unwrap_or(u32::MAX);
        run.steps.push(StepRecord {
            execution_id: run.record.id.clone(),
            seq,
            name: step.name.clone(),
            action: step.action.clone(),
            status: StepStatus::InProgress,
            attempt: 1,
            inputs: inputs.as_ref().cloned().unwrap_or(Value::Null),
            outputs: Map::new(),
            failure_message: None,
            started_at: now,
            ended_at: None,
            wake_at: None,
            child_execution_id: None,
            decisions: vec![],
            resumed: 0,
        });
        if matches!(run.record.status, ExecutionStatus::Pending | ExecutionStatus::Waiting) {
            run.set_status(ExecutionStatus::InProgress);
        }
        inputs.map_err(|e| Outcome::failed(format!("inputs: {e}")))?;
        if !run.is_mocked(&step.name) {
            self.arm(run, changes).await?;
        }
        if let Some(record) = run.current() {
            self.emit(TraceEvent::step(record, true));
            changes.push(Change::PutStep(record.clone()));
        }
        Ok(())
    }

    /// Prepares the current step's action: wake-up time, waiting status, child execution.
    async fn arm(self: &Arc<Self>, run: &mut Run, changes: &mut Vec<Change>) -> Result<(), Outcome> {
        let (action, inputs, seq) = match run.current() {
            Some(r) => (r.action.clone(), r.inputs.clone(), r.seq),
            None => return Ok(()),
        };
        if action == "aws:executeAutomation" {
            let child = self.create_child(run, &inputs, seq, changes).await?;
            if let Some(record) = run.current_mut() {
                record.child_execution_id = Some(child);
            }
            return Ok(());
        }
        let now = Utc::now();
        if let Some(record) = run.current_mut() {
            control::arm_local(record, now)?;
        }
        if matches!(action.as_str(), "aws:approve" | "aws:pause") && run.record.status == ExecutionStatus::InProgress {
            run.set_status(ExecutionStatus::Waiting);
        }
        Ok(())
    }

    async fn create_child(self: &Arc<Self>, run: &mut Run, inputs: &Value, seq: u32, changes: &mut Vec<Change>) -> Result<String, Outcome> {
        let name = inputs.get("DocumentName").and_then(Value::as_str).ok_or_else(|| Outcome::failed("DocumentName must be a string"))?;
        let version = inputs.get("DocumentVersion").and_then(Value::as_str);
        let document = self
            .documents
            .document(name, version)
            .await
            .map_err(|e| Outcome::failed(e.to_string()))?
            .ok_or_else(|| Outcome::failed(format!("no document named \"{name}\"")))?;
        let parameters = match inputs.get("RuntimeParameters") {
            None | Some(Value::Null) => vec![],
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), ParamInput::Json(runtime_parameter(v)))).collect(),
            Some(_) => return Err(Outcome::failed("RuntimeParameters must be a map")),
        };
        let request = StartRequest { document, parameters, mocks: Map::new() };
        let parent = ParentRef { execution_id: run.record.id.clone(), step_seq: seq };
        let (record, document, parsed) =
            self.prepare(request, Some(parent)).map_err(|e| Outcome::failed(format!("child execution of {name}: {e}")))?;
        let id = record.id.clone();
        self.keep_parsed(&id, parsed);
        changes.push(Change::CreateExecution { record, document });
        run.children.push(id.clone());
        Ok(id)
    }

    fn finalize(&self, run: &mut Run, status: ExecutionStatus, message: Option<String>) {
        run.set_status(status);
        run.dirty = true;
        run.record.outputs = run.document_outputs();
        run.record.failure_message = match status {
            ExecutionStatus::Success => None,
            _ => message.or_else(|| run.failure_message()),
        };
        self.emit(TraceEvent::execution(&run.record));
    }
}

/// SSM passes RuntimeParameters as lists of strings (`Who: [world]`): a one-item list of a
/// scalar is that scalar, which a list-typed parameter takes as a one-item list again.
fn runtime_parameter(value: &Value) -> Value {
    match value {
        Value::Array(items) if items.len() == 1 && !items[0].is_array() && !items[0].is_object() => items[0].clone(),
        other => other.clone(),
    }
}

/// A step's outputs: the action's response, with the declared outputs selected from it.
fn step_outputs(step: &Step, response: Map<String, Value>) -> Result<Map<String, Value>, String> {
    if step.outputs.is_empty() {
        return Ok(response);
    }
    let response = Value::Object(response);
    let mut declared = Map::new();
    for output in &step.outputs {
        let value = select(&response, &output.selector, &output.ty).map_err(|e| format!("output {}: {e}", output.name))?;
        declared.insert(output.name.clone(), value);
    }
    let Value::Object(mut all) = response else {
        return Ok(declared);
    };
    all.extend(declared);
    Ok(all)
}
