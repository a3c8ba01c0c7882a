//! What natives see while a rule implementation runs (`eval.extra`): the target, its declared
//! files and the action graph its actions go to. Analysis sets it; loading reads the label
//! (`Label()` in an implementation resolves against the target's package).

use std::cell::RefCell;
use std::collections::HashSet;

use anyhow::{anyhow, Result};
use starlark::any::ProvidesStaticType;
use starlark::eval::Evaluator;

use relink_core::action::ActionGraph;
use relink_core::label::Label;

/// What native functions see while a rule implementation runs.
#[derive(ProvidesStaticType)]
pub struct AnalysisContext<'a> {
    pub label: Label,
    pub bin_dir: String,
    pub declared: RefCell<HashSet<String>>,
    pub graph: &'a RefCell<ActionGraph>,
}

/// The analysis context of the running implementation.
pub fn analysis_context<'a>(eval: &'a Evaluator<'_, '_, '_>) -> Result<&'a AnalysisContext<'a>> {
    eval.extra
        .and_then(|e| e.downcast_ref::<AnalysisContext>())
        .ok_or_else(|| anyhow!("ctx.actions can only be used inside a rule implementation"))
}

/// Label of the target being analysed.
pub fn current_label(eval: &Evaluator<'_, '_, '_>) -> Result<Label> {
    Ok(analysis_context(eval)?.label.clone())
}
