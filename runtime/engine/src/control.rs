//! Running the current step: the control-flow actions the engine implements
//! itself (aws:sleep, aws:pause, aws:approve, aws:branch,
//! aws:executeAutomation; aws:loop runs in `looping`), the action dispatcher for everything else, step
//! deadlines, and the signals that steer a waiting step.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bosun_document::choice::parse_branch;
use bosun_document::duration::{parse_duration, parse_timestamp};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use bosun_document::interpolate::{Reference, interpolate, references};

use crate::action::ActionCall;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::handle::Handle;
use crate::record::{Change, Decision, SignalKind, SignalRecord, StepRecord, StoredExecution};
use crate::resolve::{Secure, mask, mask_text};
use crate::run::{Outcome, Run};
use crate::status::{ExecutionStatus, StepStatus};

/// Sets what an attempt of a control-flow step needs before it runs.
pub(crate) fn arm_local(record: &mut StepRecord, now: DateTime<Utc>) -> Result<(), Outcome> {
    match record.action.as_str() {
        "aws:sleep" => record.wake_at = Some(wake_at(&record.inputs, now)?),
        "aws:approve" | "aws:pause" => {
            record.status = StepStatus::Waiting;
            record.decisions.clear();
        }
        _ => {}
    }
    Ok(())
}

fn wake_at(inputs: &Value, now: DateTime<Utc>) -> Result<DateTime<Utc>, Outcome> {
    let text = |key: &str| inputs.get(key).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
    match (text("Duration"), text("Timestamp")) {
        (Some(d), None) => {
            let duration = parse_duration(&d).map_err(Outcome::failed)?;
            let duration = chrono::Duration::from_std(duration).map_err(|e| Outcome::failed(e.to_string()))?;
            Ok(now + duration)
        }
        (None, Some(t)) => parse_timestamp(&t).map_err(Outcome::failed),
        _ => Err(Outcome::failed("aws:sleep needs exactly one of Duration and Timestamp")),
    }
}

/// Checks that a signal applies to the execution as it is now; returns the step run it is
/// for (None for Cancel, which applies to the whole execution).
pub(crate) fn check_signal(execution: &StoredExecution, kind: SignalKind, actor: &str) -> Result<Option<u32>, EngineError> {
    let record = &execution.record;
    if record.status.is_terminal() {
        return Err(EngineError::Conflict(format!("execution {} has already ended with status {}", record.id, record.status)));
    }
    let current = execution.steps.last();
    let waiting_on = |action: &str| current.filter(|s| s.action == action && s.status == StepStatus::Waiting);
    match kind {
        SignalKind::Cancel => Ok(None),
        SignalKind::Resume => waiting_on("aws:pause")
            .map(|s| Some(s.seq))
            .ok_or_else(|| EngineError::Conflict(format!("execution {} is not paused at an aws:pause step", record.id))),
        SignalKind::Approve | SignalKind::Reject => {
            let step = waiting_on("aws:approve")
                .ok_or_else(|| EngineError::Conflict(format!("execution {} is not waiting for an approval", record.id)))?;
            let approvers = approvers(&step.inputs);
            if !approvers.is_empty() && !approvers.iter().any(|a| a == actor) {
                return Err(EngineError::Conflict(format!(
                    "\"{actor}\" is not an approver of step {}; approvers: {}",
                    step.name,
                    approvers.join(", ")
                )));
            }
            if step.decisions.iter().any(|d| d.approver == actor) {
                return Err(EngineError::Conflict(format!("\"{actor}\" has already decided on step {}", step.name)));
            }
            Ok(Some(step.seq))
        }
    }
}

fn approvers(inputs: &Value) -> Vec<String> {
    match inputs.get("Approvers") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect(),
        _ => vec![],
    }
}

impl Engine {
    /// Runs the current step until it has an outcome, within its `timeoutSeconds`.
    pub(crate) async fn execute(self: &Arc<Self>, run: &mut Run, handle: &Handle) -> Result<Outcome, EngineError> {
        let due = run.signals_checked.is_none_or(|t| t.elapsed() >= self.config.signal_poll);
        if (handle.take_flag() || due)
            && let Some(cancel) = self.take_signal(run, &[SignalKind::Cancel]).await?
        {
            run.consumed.push(cancel.id);
            return Ok(Outcome::Cancelled);
        }
        let Some(at) = run.current_ref() else {
            return Ok(Outcome::failed("the execution has no current step"));
        };
        let timeout = run.doc.step(at).and_then(|s| s.timeout_seconds);
        let started = run.current().map_or_else(Utc::now, |s| s.started_at);
        let Some(seconds) = timeout else {
            return self.perform(run, handle).await;
        };
        // Documents cap timeoutSeconds; a deadline past what a timestamp can hold is none.
        let deadline = i64::try_from(seconds).ok().and_then(chrono::Duration::try_seconds).and_then(|d| started.checked_add_signed(d));
        let Some(deadline) = deadline else {
            return self.perform(run, handle).await;
        };
        let remaining = (deadline - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        match tokio::time::timeout(remaining, self.perform(run, handle)).await {
            Ok(outcome) => outcome,
            Err(_) => Ok(Outcome::Failed { status: StepStatus::TimedOut, message: format!("the step timed out after {seconds} seconds") }),
        }
    }

    async fn perform(self: &Arc<Self>, run: &mut Run, handle: &Handle) -> Result<Outcome, EngineError> {
        let Some(step) = run.current() else {
            return Ok(Outcome::failed("the execution has no current step"));
        };
        if let Some(mock) = run.record.mocks.get(&step.name) {
            return Ok(match mock {
                Value::Object(map) => Outcome::success(map.clone()),
                other => Outcome::failed(format!("the mock for step {} is not a JSON object: {other}", step.name)),
            });
        }
        match step.action.as_str() {
            "aws:sleep" => self.sleep(run, handle).await,
            "aws:pause" => self.pause(run, handle).await,
            "aws:approve" => self.approve(run, handle).await,
            "aws:branch" => Ok(branch(&step.inputs)),
            "aws:executeAutomation" => self.await_child(run, handle).await,
            // A loop runs as the steps inside it; its own record never runs.
            "aws:loop" => Ok(Outcome::failed("aws:loop has no current iteration")),
            _ => self.dispatch(run, handle).await,
        }
    }

    async fn dispatch(self: &Arc<Self>, run: &mut Run, handle: &Handle) -> Result<Outcome, EngineError> {
        let Some(step) = run.current() else {
            return Ok(Outcome::failed("the execution has no current step"));
        };
        let (inputs, secrets) = match self.revealed_inputs(run) {
            Ok(Some(revealed)) => revealed,
            Ok(None) => (step.inputs.clone(), Vec::new()),
            Err(message) => return Ok(Outcome::failed(format!("inputs: {message}"))),
        };
        let call = ActionCall {
            execution_id: run.record.id.clone(),
            step_name: step.name.clone(),
            action: step.action.clone(),
            inputs,
            attempt: step.attempt,
            idempotency_key: format!("{}/{}/{}", run.record.id, step.seq, step.attempt),
        };
        let dispatcher = Arc::clone(&self.dispatcher);
        tokio::select! {
            biased;
            result = dispatcher.run(call) => Ok(match result {
                Ok(response) => {
                    let mut response = Value::Object(response);
                    mask(&mut response, &secrets);
                    Outcome::success(match response { Value::Object(map) => map, _ => Map::new() })
                }
                Err(error) => Outcome::failed(mask_text(&error.to_string(), &secrets)),
            }),
            cancel = self.wait_signal(run, handle, &[SignalKind::Cancel], None, false) => {
                cancel?;
                Ok(Outcome::Cancelled)
            }
        }
    }

    /// The current step's inputs with `{{ ssm-secure:... }}` values in plain text (or as
    /// written, for an action that resolves them itself), and those values; None when the step has no secure reference (its stored inputs,
    /// where secure values are masked, are then the inputs). Interpolated again from
    /// the document, at the time of the call.
    fn revealed_inputs(&self, run: &Run) -> Result<Option<(Value, Vec<String>)>, String> {
        let Some(written) = run.current_ref().and_then(|at| run.doc.step(at)).map(|s| &s.inputs) else { return Ok(None) };
        let secure = |text: &str| references(text).iter().any(|(_, r)| matches!(r, Ok(Reference::Ssm { secure: true, .. })));
        if !any_string(written, &secure) {
            return Ok(None);
        }
        let keep = run.current().is_some_and(|s| self.dispatcher.keeps_secure_references(&s.action));
        let resolver = self.resolver(run, Utc::now(), if keep { Secure::Keep } else { Secure::Reveal });
        let inputs = interpolate(written, &resolver).map_err(|e| e.to_string())?;
        Ok(Some((inputs, resolver.revealed.take())))
    }

    async fn sleep(&self, run: &mut Run, handle: &Handle) -> Result<Outcome, EngineError> {
        let until = run.current().and_then(|s| s.wake_at).unwrap_or_else(Utc::now);
        Ok(match self.wait_signal(run, handle, &[SignalKind::Cancel], Some(until), true).await? {
            Some(_) => Outcome::Cancelled,
            None => Outcome::success(Map::new()),
        })
    }

    async fn pause(&self, run: &mut Run, handle: &Handle) -> Result<Outcome, EngineError> {
        let signal = self.wait_signal(run, handle, &[SignalKind::Resume, SignalKind::Cancel], None, true).await?;
        Ok(match signal.map(|s| s.kind) {
            Some(SignalKind::Resume) => Outcome::success(Map::new()),
            _ => Outcome::Cancelled,
        })
    }

    async fn approve(&self, run: &mut Run, handle: &Handle) -> Result<Outcome, EngineError> {
        let kinds = [SignalKind::Approve, SignalKind::Reject, SignalKind::Cancel];
        loop {
            let Some(signal) = self.wait_signal(run, handle, &kinds, None, true).await? else {
                continue;
            };
            if signal.kind == SignalKind::Cancel {
                return Ok(Outcome::Cancelled);
            }
            let Some(step) = run.current_mut() else {
                return Ok(Outcome::failed("the execution has no current step"));
            };
            let allowed = approvers(&step.inputs);
            if (!allowed.is_empty() && !allowed.contains(&signal.actor)) || step.decisions.iter().any(|d| d.approver == signal.actor) {
                continue; // already consumed; a stale or foreign decision changes nothing
            }
            step.decisions.push(Decision {
                approver: signal.actor.clone(),
                approved: signal.kind == SignalKind::Approve,
                comment: signal.comment.clone(),
                at: signal.created_at,
            });
            if let Some(outcome) = approval_outcome(step) {
                return Ok(outcome);
            }
            let mut changes = vec![Change::PutStep(step.clone())];
            changes.extend(run.consumed.drain(..).map(|id| Change::ConsumeSignal { id }));
            self.store.commit(changes).await?;
        }
    }

    async fn await_child(&self, run: &mut Run, handle: &Handle) -> Result<Outcome, EngineError> {
        let Some(child_id) = run.current().and_then(|s| s.child_execution_id.clone()) else {
            return Ok(Outcome::failed("the step has no child execution"));
        };
        loop {
            let status = self.store.status(&child_id).await?.ok_or_else(|| EngineError::NotFound(child_id.clone()))?;
            if status.is_terminal() {
                return Ok(child_outcome(&self.get(&child_id).await?));
            }
            let until = Utc::now() + chrono::Duration::from_std(self.config.signal_poll).unwrap_or_default();
            if self.wait_signal(run, handle, &[SignalKind::Cancel], Some(until), true).await?.is_some() {
                self.cancel_child(&child_id).await?;
                return Ok(Outcome::Cancelled);
            }
        }
    }

    async fn cancel_child(&self, child_id: &str) -> Result<(), EngineError> {
        match self.signal(child_id, SignalKind::Cancel, "parent execution", None).await {
            Ok(()) | Err(EngineError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits for one of `kinds` until `until` (forever when None); the signal found is
    /// marked consumed in `run`. Signals of other kinds no longer apply and are consumed too.
    async fn wait_signal(
        &self,
        run: &mut Run,
        handle: &Handle,
        kinds: &[SignalKind],
        until: Option<DateTime<Utc>>,
        check_first: bool,
    ) -> Result<Option<SignalRecord>, EngineError> {
        let mut check = check_first;
        loop {
            if check && let Some(signal) = self.take_signal(run, kinds).await? {
                run.consumed.push(signal.id.clone());
                return Ok(Some(signal));
            }
            check = true;
            let mut wait = self.config.signal_poll;
            if let Some(until) = until {
                let left = (until - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                if left.is_zero() {
                    return Ok(None);
                }
                wait = wait.min(left);
            }
            tokio::select! {
                _ = handle.woken() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// The oldest pending signal of one of `kinds` that applies to the current step run.
    /// Signals sent to a step run that has ended no longer apply and are consumed; signals
    /// for the current run that are not asked for now stay for later.
    async fn take_signal(&self, run: &mut Run, kinds: &[SignalKind]) -> Result<Option<SignalRecord>, EngineError> {
        run.signals_checked = Some(Instant::now());
        let current = run.current().map(|s| s.seq);
        let mut found = None;
        for signal in self.store.pending_signals(&run.record.id).await? {
            if run.consumed.contains(&signal.id) {
                continue;
            }
            let stale = match signal.kind {
                SignalKind::Cancel => false,
                _ => signal.step_seq.is_none() || signal.step_seq != current,
            };
            if stale {
                run.consumed.push(signal.id);
            } else if found.is_none() && kinds.contains(&signal.kind) {
                found = Some(signal);
            }
        }
        Ok(found)
    }
}

fn branch(inputs: &Value) -> Outcome {
    let branch = match parse_branch(inputs) {
        Ok(branch) => branch,
        Err(errors) => {
            return Outcome::failed(errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; "));
        }
    };
    match branch.decide() {
        Ok(Some(target)) => Outcome::Success { response: Map::new(), goto: Some(target.to_string()) },
        Ok(None) => Outcome::failed("no choice matched and the step has no Default"),
        Err(message) => Outcome::failed(message),
    }
}

fn approval_outcome(step: &StepRecord) -> Option<Outcome> {
    let required = step.inputs.get("MinRequiredApprovals").and_then(Value::as_u64).unwrap_or(1).max(1);
    let decisions: Vec<Value> = step
        .decisions
        .iter()
        .map(|d| json!({"Approver": d.approver, "Decision": if d.approved { "Approved" } else { "Rejected" }, "Comment": d.comment, "Time": d.at}))
        .collect();
    let comment = step.decisions.last().and_then(|d| d.comment.clone());
    if let Some(rejection) = step.decisions.iter().find(|d| !d.approved) {
        let reason = rejection.comment.as_deref().map(|c| format!(": {c}")).unwrap_or_default();
        return Some(Outcome::failed(format!("rejected by {}{reason}", rejection.approver)));
    }
    let approvals = step.decisions.len() as u64;
    (approvals >= required).then(|| {
        let mut response = Map::new();
        response.insert("ApprovalStatus".into(), json!("Approved"));
        response.insert("ApproverDecisions".into(), Value::Array(decisions));
        response.insert("Comment".into(), comment.map_or(Value::Null, Value::String));
        Outcome::success(response)
    })
}

fn child_outcome(child: &StoredExecution) -> Outcome {
    let record = &child.record;
    if record.status == ExecutionStatus::Success {
        let mut response = Map::new();
        response.insert("ExecutionId".into(), json!(record.id));
        response.insert("Status".into(), json!(record.status.as_str()));
        response.insert("Output".into(), Value::Object(record.outputs.clone()));
        return Outcome::success(response);
    }
    let reason = record.failure_message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
    Outcome::failed(format!("child execution {} ended with status {}{reason}", record.id, record.status))
}

/// Whether any string of `value` (keys included) satisfies `test`.
fn any_string(value: &Value, test: &dyn Fn(&str) -> bool) -> bool {
    match value {
        Value::String(s) => test(s),
        Value::Array(items) => items.iter().any(|v| any_string(v, test)),
        Value::Object(map) => map.iter().any(|(k, v)| test(k) || any_string(v, test)),
        _ => false,
    }
}
