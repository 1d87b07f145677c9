//! Checking a rule before it is stored (its pattern, targets and inputs, each
//! error naming the field), and turning the stored rules into a [`RuleSet`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bosun_engine::StoreError;
use bosun_events::{InputTransformer, Pattern, RuleSet};
use bosun_protocol::events::{InputTransformerSpec, MAX_TARGETS, RuleSpec, RuleView, TargetAction};
use bosun_store::{FleetError, OPSITEM_SEVERITIES, Store, validate_event_name};

use crate::run_command::notify::parse_url;
use crate::webhook_sign::Secret;

fn invalid(field: impl Into<String>, message: impl Into<String>) -> FleetError {
    FleetError::Invalid { field: field.into(), message: message.into() }
}

/// The event-pattern crate's transformer for a target's.
pub fn transformer(spec: &InputTransformerSpec) -> InputTransformer {
    InputTransformer { input_paths: spec.input_paths.clone(), input_template: spec.input_template.clone() }
}

/// Checks everything about a rule; the error names the field (`targets[1].action.url`).
pub fn check(spec: &RuleSpec) -> Result<Pattern, FleetError> {
    validate_event_name("name", &spec.name)?;
    if spec.description.len() > 512 {
        return Err(invalid("description", "a description has at most 512 characters"));
    }
    let pattern = Pattern::from_value(&spec.event_pattern).map_err(|e| {
        let field = if e.path.is_empty() { "eventPattern".to_string() } else { format!("eventPattern.{}", e.path) };
        invalid(field, e.message)
    })?;
    if spec.targets.is_empty() || spec.targets.len() > MAX_TARGETS {
        return Err(invalid("targets", format!("a rule has 1 to {MAX_TARGETS} targets")));
    }
    let mut ids = HashSet::new();
    for (i, target) in spec.targets.iter().enumerate() {
        let field = |name: &str| format!("targets[{i}].{name}");
        validate_event_name(&field("id"), &target.id)?;
        if !ids.insert(&target.id) {
            return Err(invalid(field("id"), format!("two targets have the id {}", target.id)));
        }
        if target.input.is_some() && target.input_transformer.is_some() {
            return Err(invalid(field("input"), "input and inputTransformer exclude each other"));
        }
        if let Some(spec) = &target.input_transformer {
            transformer(spec).validate().map_err(|e| invalid(field("inputTransformer"), e.to_string()))?;
        }
        check_action(&target.action, &|name| field(&format!("action.{name}")))?;
    }
    Ok(pattern)
}

fn check_action(action: &TargetAction, field: &dyn Fn(&str) -> String) -> Result<(), FleetError> {
    let named = |name: &str, value: &str| {
        if value.trim().is_empty() { Err(invalid(field(name), "must not be empty")) } else { Ok(()) }
    };
    match action {
        TargetAction::Automation { document_name } => named("documentName", document_name),
        TargetAction::RunCommand { document_name, targets } => {
            named("documentName", document_name)?;
            if targets.is_empty() {
                return Err(invalid(field("targets"), "name at least one target"));
            }
            Ok(())
        }
        TargetAction::Webhook { url, secret } => {
            parse_url(url).map_err(|e| invalid(field("url"), e))?;
            Secret::parse(secret).map_err(|e| invalid(field("secret"), e.to_string()))?;
            Ok(())
        }
        TargetAction::OpsItem { title, severity, .. } => {
            named("title", title)?;
            match severity {
                Some(s) if !OPSITEM_SEVERITIES.contains(&s.as_str()) => {
                    Err(invalid(field("severity"), format!("{s:?} is not one of {}", OPSITEM_SEVERITIES.join(", "))))
                }
                _ => Ok(()),
            }
        }
    }
}

/// The enabled rules, indexed by pattern, each by its place in `rules`. A stored rule
/// that no longer parses (it was checked when stored) is left out with a warning.
pub fn rule_set(rules: &[RuleView]) -> RuleSet<usize> {
    let mut set = RuleSet::new();
    for (at, rule) in rules.iter().enumerate().filter(|(_, r)| r.spec.enabled) {
        match Pattern::from_value(&rule.spec.event_pattern) {
            Ok(pattern) => set.insert(at, pattern),
            Err(error) => tracing::warn!(rule = %rule.spec.name, %error, "a stored rule's pattern does not parse; it is skipped"),
        }
    }
    set
}

/// The enabled rules compiled into one matcher, as of one rules generation.
pub struct CompiledRules {
    generation: i64,
    pub rules: Vec<RuleView>,
    /// Matches an event to positions in `rules`.
    pub set: RuleSet<usize>,
}

/// The rules, compiled once and kept while no rule changes (in any process).
#[derive(Default)]
pub struct RuleCache {
    current: Mutex<Option<Arc<CompiledRules>>>,
}

impl RuleCache {
    /// The rules as they are now: compiled again only when the rules generation moved.
    pub fn current(&self, store: &Store) -> Result<Arc<CompiledRules>, StoreError> {
        let generation = store.rules_generation()?;
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(compiled) = current.as_ref().filter(|c| c.generation == generation) {
            return Ok(Arc::clone(compiled));
        }
        // Read after the generation: a change committed meanwhile moves the generation
        // past this entry, and the next call compiles again.
        let rules = store.list_rules()?;
        let set = rule_set(&rules);
        let compiled = Arc::new(CompiledRules { generation, rules, set });
        *current = Some(Arc::clone(&compiled));
        Ok(compiled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_protocol::events::RuleTarget;
    use serde_json::json;

    fn spec(pattern: serde_json::Value, action: TargetAction) -> RuleSpec {
        RuleSpec {
            name: "r".into(),
            description: String::new(),
            event_pattern: pattern,
            enabled: true,
            targets: vec![RuleTarget { id: "t".into(), action, input: None, input_transformer: None }],
        }
    }

    fn field(result: Result<Pattern, FleetError>) -> String {
        match result {
            Err(FleetError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        let ops = TargetAction::OpsItem { title: "t".into(), severity: None, category: None, deduplication: None };
        assert!(check(&spec(json!({"source": ["a"]}), ops.clone())).is_ok());
        assert_eq!(field(check(&spec(json!({"source": [{"prefx": "a"}]}), ops.clone()))), "eventPattern.source[0].prefx");
        assert_eq!(field(check(&spec(json!([]), ops.clone()))), "eventPattern");
        let hook = TargetAction::Webhook { url: "ftp://x".into(), secret: "whsec_x".into() };
        assert_eq!(field(check(&spec(json!({"a": ["b"]}), hook))), "targets[0].action.url");
        let secret = TargetAction::Webhook { url: "http://x".into(), secret: "nope".into() };
        assert_eq!(field(check(&spec(json!({"a": ["b"]}), secret))), "targets[0].action.secret");
        let severity = TargetAction::OpsItem { title: "t".into(), severity: Some("7".into()), category: None, deduplication: None };
        assert_eq!(field(check(&spec(json!({"a": ["b"]}), severity))), "targets[0].action.severity");
        let command = TargetAction::RunCommand { document_name: "X".into(), targets: vec![] };
        assert_eq!(field(check(&spec(json!({"a": ["b"]}), command))), "targets[0].action.targets");
        let mut both = spec(json!({"a": ["b"]}), ops.clone());
        both.targets[0].input = Some(json!({}));
        both.targets[0].input_transformer = Some(InputTransformerSpec { input_paths: Default::default(), input_template: "x".into() });
        assert_eq!(field(check(&both)), "targets[0].input");
        let mut twice = spec(json!({"a": ["b"]}), ops.clone());
        twice.targets.push(twice.targets[0].clone());
        assert_eq!(field(check(&twice)), "targets[1].id");
        let mut undefined = spec(json!({"a": ["b"]}), ops);
        undefined.targets[0].input_transformer =
            Some(InputTransformerSpec { input_paths: Default::default(), input_template: "<x>".into() });
        assert_eq!(field(check(&undefined)), "targets[0].inputTransformer");
    }

    #[test]
    fn the_cache_compiles_again_only_after_a_rule_changed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), bosun_store::Durability::Normal).unwrap();
        let other_process = Store::open(dir.path(), bosun_store::Durability::Normal).unwrap();
        let cache = RuleCache::default();
        assert!(cache.current(&store).unwrap().set.is_empty());
        let ops = TargetAction::OpsItem { title: "t".into(), severity: None, category: None, deduplication: None };
        store.create_rule(&spec(json!({"source": ["a"]}), ops)).unwrap();
        let first = cache.current(&store).unwrap();
        assert_eq!(first.set.len(), 1);
        assert!(Arc::ptr_eq(&first, &cache.current(&store).unwrap()), "nothing changed: the same compiled rules");
        // A change made elsewhere (another process, any code path) counts.
        other_process.set_rule_enabled("r", false).unwrap();
        assert!(cache.current(&store).unwrap().set.is_empty());
        other_process.set_rule_enabled("r", true).unwrap();
        assert_eq!(cache.current(&store).unwrap().set.len(), 1);
        other_process.delete_rule("r").unwrap();
        assert!(cache.current(&store).unwrap().rules.is_empty());
    }
}
