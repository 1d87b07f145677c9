//! One transition of an execution: finish the current step with its outcome,
//! choose what comes next, begin it (interpolate its inputs, arm control flow),
//! and collect every change to commit as one transaction. An `aws:loop` begins
//! with its first step inside; the end of an iteration starts the next one or
//! ends the loop, in the same transition as the step that ended it.

use std::sync::Arc;

use bosun_document::interpolate::interpolate;
use bosun_document::params::ParamInput;
use bosun_document::selector::select;
use bosun_document::{Step, StepRef};
use chrono::Utc;
use serde_json::{Map, Value};

use crate::control;
use crate::engine::{Engine, StartRequest};
use crate::error::EngineError;
use crate::flow::{Next, after_cancel, after_failure, after_success, end_status};
use crate::looping;
use crate::record::{Change, ParentRef, StepRecord};
use crate::resolve::Secure;
use crate::run::{Outcome, Run};
use crate::status::{ExecutionStatus, StepStatus};

enum Finish {
    /// The same step runs again (another attempt).
    Retry,
    Next(Next),
}

/// What `begin` started.
enum Begun {
    /// A step that now runs.
    Step,
    /// The `aws:loop` at this index of `mainSteps`: its first step begins next.
    Loop(usize),
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
        // The outcome and the position in the history of the record it ends.
        let mut ending = outcome.take().map(|o| (run.steps.len().saturating_sub(1), o));
        loop {
            if let Some((pos, o)) = ending.take() {
                match self.finish(run, pos, o, &mut changes) {
                    Finish::Retry => break,
                    Finish::Next(n) => next = Some(n),
                }
            }
            match next.take() {
                Some(Next::Step(_)) if run.steps.len() >= self.config.max_step_runs => {
                    let message = format!("the execution made {} step runs, the most allowed", run.steps.len());
                    self.close_loops(run, &mut changes);
                    self.finalize(run, ExecutionStatus::Failed, Some(message));
                    break;
                }
                Some(Next::Step(at)) => match self.begin(run, at, &mut changes).await {
                    Ok(Begun::Step) => break,
                    Ok(Begun::Loop(parent)) => next = Some(Next::Step(StepRef::Nested { parent, index: 0 })),
                    Err(o) => ending = Some((run.steps.len().saturating_sub(1), o)),
                },
                Some(Next::EndIteration(parent)) => match self.next_iteration(run, parent, &mut changes) {
                    Ok(()) => next = Some(Next::Step(StepRef::Nested { parent, index: 0 })),
                    Err(end) => ending = Some(end),
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
                // The history goes with the end rather than a copy of it: an ended run takes
                // no more transitions, and if this commit fails the execution is loaded again.
                true => Change::EndExecution { record: run.record.clone(), steps: std::mem::take(&mut run.steps) },
                false => Change::UpdateExecution(run.record.clone()),
            });
        }
        Ok(changes)
    }

    /// Ends the record at `pos` of the history (the current step, or a loop whose
    /// iterations are over) with `outcome`, and decides what comes next.
    fn finish(&self, run: &mut Run, pos: usize, outcome: Outcome, changes: &mut Vec<Change>) -> Finish {
        let doc = Arc::clone(&run.doc);
        let Some(at) = run.steps.get(pos).and_then(|r| run.step_ref(&r.name)) else {
            return Finish::Next(Next::Stop(ExecutionStatus::Failed)); // a history that does not fit its document
        };
        let Some(step) = doc.step(at) else {
            return Finish::Next(Next::Stop(ExecutionStatus::Failed)); // a history that does not fit its document
        };
        let is_loop = step.action == "aws:loop";
        let outcome = match outcome {
            Outcome::Success { response, goto } => match step_outputs(step, response) {
                Ok(outputs) => Outcome::Success { response: outputs, goto },
                Err(message) => Outcome::failed(message),
            },
            other => other,
        };
        let Some(record) = run.steps.get_mut(pos) else {
            return Finish::Next(Next::Stop(ExecutionStatus::Failed)); // a history that does not fit its document
        };
        let now = Utc::now();
        let next = match outcome {
            Outcome::Success { response, goto } => {
                record.status = StepStatus::Success;
                record.outputs = response;
                record.failure_message = None;
                after_success(&doc, at, goto.as_deref())
            }
            // A loop is not retried as a whole; its steps have their own maxAttempts.
            Outcome::Failed { message, .. } if record.attempt < step.max_attempts && !is_loop => {
                record.attempt += 1;
                record.failure_message = Some(message);
                record.status = StepStatus::InProgress;
                record.started_at = now;
                if let Err(o) = control::arm_local(record, now) {
                    return self.finish(run, pos, o, changes);
                }
                let record = record.clone();
                changes.push(Change::PutStep(record));
                return Finish::Retry;
            }
            Outcome::Failed { status, message } => {
                record.status = status;
                record.failure_message = Some(message);
                after_failure(&doc, at, status)
            }
            Outcome::Interrupted { message } => {
                record.status = StepStatus::Failed;
                record.failure_message = Some(message);
                after_failure(&doc, at, StepStatus::Failed)
            }
            Outcome::Cancelled => {
                record.status = StepStatus::Cancelled;
                record.failure_message = Some("cancelled".into());
                // aws:loop takes no onCancel (the steps inside it do).
                if is_loop { Next::Stop(ExecutionStatus::Cancelled) } else { after_cancel(&doc, at) }
            }
        };
        record.ended_at = Some(now);
        let record = record.clone();
        changes.push(Change::PutStep(record.clone()));
        if record.status == StepStatus::Cancelled && matches!(next, Next::Step(_)) {
            run.set_status(ExecutionStatus::Cancelling);
        }
        // A step inside a loop that stops the execution ends its loop the same way, and the
        // loop's own onFailure decides what comes next.
        if let (Some(parent), Next::Stop(_)) = (at.parent(), &next)
            && let Some(loop_pos) = run.loop_record(parent)
        {
            let message =
                format!("step \"{}\" {}: {}", record.name, record.status, record.failure_message.as_deref().unwrap_or("no message"));
            let outcome = match record.status {
                StepStatus::Cancelled => Outcome::Cancelled,
                StepStatus::TimedOut => Outcome::Failed { status: StepStatus::TimedOut, message },
                _ => Outcome::failed(message),
            };
            return self.finish(run, loop_pos, outcome, changes);
        }
        Finish::Next(next)
    }

    /// After an iteration of the loop at `parent`: the next iteration is committed on the
    /// loop's record (`Ok`), or the loop ends with the outcome returned for its record.
    fn next_iteration(&self, run: &mut Run, parent: usize, changes: &mut Vec<Change>) -> Result<(), (usize, Outcome)> {
        let Some(pos) = run.loop_record(parent) else {
            return Err((run.steps.len().saturating_sub(1), Outcome::failed("the loop step has no record")));
        };
        let record = &run.steps[pos];
        let done = looping::current_iteration(&record.outputs);
        let decision = looping::plan(&record.inputs).and_then(|plan| {
            let resolver = self.resolver(run, Utc::now(), Secure::Mask);
            let condition = run.doc.main_steps.get(parent).and_then(|s| s.inputs.get("LoopCondition"));
            let again = looping::runs_again(&plan, done, condition, &resolver)?;
            Ok(again.then(|| plan.items.as_ref().and_then(|items| items.get(done as usize).cloned())))
        });
        let record = &mut run.steps[pos];
        match decision {
            Ok(Some(value)) => {
                record.outputs = looping::iteration_outputs(done + 1, value.as_ref());
                changes.push(Change::PutStep(record.clone()));
                Ok(())
            }
            Ok(None) => Err((pos, Outcome::success(record.outputs.clone()))),
            Err(message) => Err((pos, Outcome::failed(message))),
        }
    }

    /// Loop steps still running end as Failed (the execution is stopping without them).
    fn close_loops(&self, run: &mut Run, changes: &mut Vec<Change>) {
        let now = Utc::now();
        for record in run.steps.iter_mut().filter(|s| s.action == "aws:loop" && !s.status.is_terminal()) {
            record.status = StepStatus::Failed;
            record.failure_message = Some("the execution stopped during the loop".into());
            record.ended_at = Some(now);
            changes.push(Change::PutStep(record.clone()));
        }
    }

    /// Starts the step at `at`: a new record with interpolated inputs, armed for its
    /// action. An `Err` is the step's immediate outcome (it failed before running).
    async fn begin(self: &Arc<Self>, run: &mut Run, at: StepRef, changes: &mut Vec<Change>) -> Result<Begun, Outcome> {
        let doc = Arc::clone(&run.doc);
        let Some(step) = doc.step(at) else {
            return Err(Outcome::failed("no such step"));
        };
        let is_loop = step.action == "aws:loop" && !run.is_mocked(&step.name);
        let written = if is_loop { looping::begin_inputs(&step.inputs) } else { step.inputs.clone() };
        let now = Utc::now();
        let inputs = {
            let resolver = self.resolver(run, now, Secure::Mask);
            interpolate(&written, &resolver)
        };
        let seq = u32::try_from(run.steps.len()).unwrap_or(u32::MAX);
        let iteration = at.parent().and_then(|p| run.loop_record(p)).map(|i| looping::current_iteration(&run.steps[i].outputs));
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
            iteration,
        });
        if matches!(run.record.status, ExecutionStatus::Pending | ExecutionStatus::Waiting) {
            run.set_status(ExecutionStatus::InProgress);
        }
        inputs.map_err(|e| Outcome::failed(format!("inputs: {e}")))?;
        if is_loop {
            let Some(record) = run.current_mut() else {
                return Err(Outcome::failed("the loop step has no record"));
            };
            let plan = looping::plan(&record.inputs).map_err(Outcome::failed)?;
            let first = plan.items.as_ref().map(|items| items.first());
            if first == Some(None) {
                // Nothing to iterate over: the loop is done before its first iteration.
                return Err(Outcome::success(looping::iteration_outputs(0, None)));
            }
            record.outputs = looping::iteration_outputs(1, first.flatten());
            changes.push(Change::PutStep(record.clone()));
            return Ok(Begun::Loop(at.index()));
        }
        if !run.is_mocked(&step.name) {
            self.arm(run, changes).await?;
        }
        if let Some(record) = run.current() {
            changes.push(Change::PutStep(record.clone()));
        }
        Ok(Begun::Step)
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
        let (mut record, document) =
            self.prepare(request, Some(parent)).map_err(|e| Outcome::failed(format!("child execution of {name}: {e}")))?;
        record.started_by = run.record.started_by.clone();
        let id = record.id.clone();
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
