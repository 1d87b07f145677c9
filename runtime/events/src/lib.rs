//! Event patterns in the EventBridge pattern language: parsing with errors that name
//! the bad part ([`Pattern::parse`]), matching one event ([`Pattern::matches`]), an
//! index that matches many rules at once at a cost that does not grow with their
//! number ([`RuleSet`]), and input transformers for rule targets ([`InputTransformer`]).
//! Pure: no IO, no clock.

mod index;
mod leaf;
mod pattern;
mod transform;
mod wildcard;

pub use index::RuleSet;
pub use pattern::{MAX_WILDCARD_STARS, Pattern, PatternError};
pub use transform::{InputTransformer, TransformError};
