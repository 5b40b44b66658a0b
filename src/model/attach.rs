//! Attaching the model compiled into this build to an [`Analyzer`]. This lives with the model, not in
//! `analyzer.rs`, so that the pipeline knows only the [`crate::Classifier`] seam and not its one implementation.

use super::LocalModel;
use crate::analyzer::Analyzer;
use crate::error::Result;
use crate::rules::RuleSet;

impl Analyzer {
    /// Everything compiled into this build: the built-in rules and, when the build carries one, the built-in
    /// model. This is what every channel (CLI, bridge, desktop) runs by default.
    pub fn builtin() -> Result<Self> {
        Self::new(RuleSet::builtin()?).with_builtin_model()
    }

    /// Attach the model compiled into this build, if it has one (see build.rs) and no classifier is attached yet;
    /// otherwise leave the analyzer as it is. Loading parses 20 MB of weights, so `builtin().with_builtin_model()`
    /// must not do it twice.
    pub fn with_builtin_model(self) -> Result<Self> {
        if !self.has_classifier() && LocalModel::has_builtin() {
            Ok(self.with_classifier(Box::new(LocalModel::builtin()?)))
        } else {
            Ok(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the attached classifier lives: the same address means the same loaded model.
    fn classifier_at(a: &Analyzer) -> Option<*const ()> {
        a.classifier().map(|c| std::ptr::from_ref(c).cast::<()>())
    }

    #[test]
    fn the_built_in_model_is_loaded_once() {
        let analyzer = Analyzer::builtin().expect("the built-in analyzer");
        let first = classifier_at(&analyzer);
        assert_eq!(first.is_some(), LocalModel::has_builtin());
        let again = analyzer.with_builtin_model().expect("attach again");
        assert_eq!(classifier_at(&again), first, "the model already attached is kept, not loaded a second time");
    }
}
