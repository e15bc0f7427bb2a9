//! Finding where an error happened when boa only knows the function.
//!
//! boa records source positions for calls, property reads, assignments and
//! `throw`, but not for evaluating a callee (`undefined_fn()`, or
//! `KSR.tm.t_relay()` when tm is not loaded) nor for its loop counter:
//! such errors carry the position of the enclosing function's body (its
//! `{`), or none at all in top-level code. Those are the commonest script
//! mistakes, so the script's AST is searched, within that one function,
//! for the construct that raises them. Only an unambiguous match is
//! reported; otherwise the coarse position stands.

use std::ops::ControlFlow;

use boa_engine::ast::expression::{Call, Expression};
use boa_engine::ast::function::FunctionBody;
use boa_engine::ast::scope::Scope;
use boa_engine::ast::statement::iteration::{
    DoWhileLoop, ForInLoop, ForLoop, ForLoopInitializer, ForOfLoop, WhileLoop,
};
use boa_engine::ast::visitor::{VisitWith, Visitor};
use boa_engine::ast::{Position, Spanned, StatementListItem};
use boa_engine::interner::{Interner, ToInternedString};
use boa_engine::parser::{Parser, Source};

use super::scan::{ksr_path, resolve};
use crate::registry;

/// What raised the error, as far as its kind tells.
pub(super) enum Culprit<'a> {
    /// `ReferenceError: <name> is not defined`.
    Undefined(&'a str),
    /// A `TypeError` reading a property of `undefined`: a call through a
    /// `KSR` module that is not there is the usual cause.
    MissingModule {
        /// The modules bound under `KSR`.
        visible: &'a [&'static str],
    },
    /// The loop iteration limit.
    Loop,
}

/// A better position, and what to add to the message.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Found {
    pub line: u32,
    pub column: u32,
    pub note: Option<String>,
}

/// Searches `text` for the culprit inside the function whose body starts
/// at `within` (`None`: the top-level code). `None` when `within` is no
/// function body start (the position is already exact) or nothing fits.
pub(super) fn locate(
    text: &str,
    within: Option<(u32, u32)>,
    culprit: &Culprit<'_>,
) -> Option<Found> {
    let mut interner = Interner::default();
    let script = Parser::new(Source::from_bytes(text))
        .parse_script(&Scope::new_global(), &mut interner)
        .ok()?;
    let statements: &[StatementListItem] = match within {
        None => script.statements().statements(),
        Some((line, column)) => {
            let mut finder = BodyAt { line, column };
            match script.visit_with(&mut finder) {
                ControlFlow::Break(body) => body.statements(),
                ControlFlow::Continue(()) => return None,
            }
        }
    };
    let mut search = Search {
        interner: &interner,
        culprit,
        found: None,
        loops: Vec::new(),
    };
    for item in statements {
        if item.visit_with(&mut search).is_break() {
            break;
        }
    }
    match culprit {
        Culprit::Loop => match search.loops.as_slice() {
            [Some(p)] => Some(Found {
                line: p.line_number(),
                column: p.column_number(),
                note: None,
            }),
            _ => None,
        },
        _ => search.found,
    }
}

/// Finds the function body that starts at a position.
struct BodyAt {
    line: u32,
    column: u32,
}

impl<'ast> Visitor<'ast> for BodyAt {
    type BreakTy = &'ast FunctionBody;

    fn visit_function_body(&mut self, node: &'ast FunctionBody) -> ControlFlow<Self::BreakTy> {
        let start = node.span().start();
        if start.line_number() == self.line && start.column_number() == self.column {
            return ControlFlow::Break(node);
        }
        node.visit_with(self)
    }
}

/// Walks one function's own code (not the functions nested in it).
struct Search<'a> {
    interner: &'a Interner,
    culprit: &'a Culprit<'a>,
    found: Option<Found>,
    /// A position in each loop met, when it has one.
    loops: Vec<Option<Position>>,
}

impl Search<'_> {
    fn found(&mut self, at: Position, note: Option<String>) -> ControlFlow<()> {
        self.found = Some(Found {
            line: at.line_number(),
            column: at.column_number(),
            note,
        });
        ControlFlow::Break(())
    }
}

impl<'ast> Visitor<'ast> for Search<'_> {
    type BreakTy = ();

    // A nested function runs in its own frame: an error there would have
    // been reported there.
    fn visit_function_body(&mut self, _node: &'ast FunctionBody) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    fn visit_expression(&mut self, node: &'ast Expression) -> ControlFlow<()> {
        if let (Culprit::Undefined(name), Expression::Identifier(id)) = (self.culprit, node) {
            if resolve(self.interner, id.sym()).as_deref() == Some(*name) {
                return self.found(id.span().start(), None);
            }
        }
        node.visit_with(self)
    }

    fn visit_call(&mut self, node: &'ast Call) -> ControlFlow<()> {
        if let Culprit::MissingModule { visible } = self.culprit {
            if let Some((module, _)) = ksr_path(self.interner, node.function()) {
                if !module.is_empty() && !visible.contains(&module.as_str()) {
                    let note = missing_module_note(&module);
                    return self.found(node.function().span().start(), Some(note));
                }
            }
        }
        node.visit_with(self)
    }

    fn visit_while_loop(&mut self, node: &'ast WhileLoop) -> ControlFlow<()> {
        self.loops.push(Some(node.condition().span().start()));
        node.visit_with(self)
    }

    fn visit_do_while_loop(&mut self, node: &'ast DoWhileLoop) -> ControlFlow<()> {
        self.loops.push(Some(node.cond().span().start()));
        node.visit_with(self)
    }

    fn visit_for_loop(&mut self, node: &'ast ForLoop) -> ControlFlow<()> {
        let at = node
            .condition()
            .or(node.final_expr())
            .map(|e| e.span().start())
            .or_else(|| match node.init() {
                Some(ForLoopInitializer::Expression(e)) => Some(e.span().start()),
                _ => None,
            });
        self.loops.push(at);
        node.visit_with(self)
    }

    fn visit_for_in_loop(&mut self, node: &'ast ForInLoop) -> ControlFlow<()> {
        self.loops.push(Some(node.target().span().start()));
        node.visit_with(self)
    }

    fn visit_for_of_loop(&mut self, node: &'ast ForOfLoop) -> ControlFlow<()> {
        self.loops.push(Some(node.iterable().span().start()));
        node.visit_with(self)
    }
}

/// Why `KSR.<module>` is undefined.
fn missing_module_note(module: &str) -> String {
    match registry::modules().iter().find(|m| m.name == module) {
        Some(m) if !m.provided_by.is_empty() => format!(
            "KSR.{module} is undefined: the configuration does not load the {} module",
            m.provided_by
        ),
        _ => format!("KSR.{module} is undefined: kemid has no such module"),
    }
}

/// The callee of the call expression whose arguments start at `at` (boa
/// places "not a callable function" there), as written: `KSR.pv.nosuch`.
pub(super) fn callee_at(text: &str, at: (u32, u32)) -> Option<String> {
    let mut interner = Interner::default();
    let script = Parser::new(Source::from_bytes(text))
        .parse_script(&Scope::new_global(), &mut interner)
        .ok()?;
    let mut finder = CallAt { at, callee: None };
    let _ = script.visit_with(&mut finder);
    let callee = finder.callee?;
    Some(callee.to_interned_string(&interner))
}

struct CallAt<'ast> {
    at: (u32, u32),
    callee: Option<&'ast Expression>,
}

impl<'ast> Visitor<'ast> for CallAt<'ast> {
    type BreakTy = ();

    fn visit_call(&mut self, node: &'ast Call) -> ControlFlow<()> {
        let start = node.span().start();
        if (start.line_number(), start.column_number()) == self.at {
            self.callee = Some(node.function());
            return ControlFlow::Break(());
        }
        node.visit_with(self)
    }
}
