//! `kemid check` for JavaScript: boa's parser reduces a script to the
//! global functions it defines and the `KSR` calls it makes, with their
//! positions (boa's AST nodes carry spans).

use std::ops::ControlFlow;

use boa_engine::ast::declaration::{Binding, Declaration};
use boa_engine::ast::expression::access::{PropertyAccess, PropertyAccessField};
use boa_engine::ast::expression::literal::LiteralKind;
use boa_engine::ast::expression::operator::assign::{AssignOp, AssignTarget};
use boa_engine::ast::expression::{Call, Expression, Identifier};
use boa_engine::ast::scope::Scope;
use boa_engine::ast::visitor::{VisitWith, Visitor};
use boa_engine::ast::{Spanned, Statement, StatementListItem};
use boa_engine::interner::{Interner, Sym};
use boa_engine::parser::{Parser, Source};

use super::error::syntax_error;
use crate::engine::check::{CallSite, Diagnostic, ScriptScan};
use crate::engine::ScriptSource;

/// Parses `source` and lists its global functions and `KSR` call sites; a
/// syntax error is the one diagnostic.
pub fn scan(source: &ScriptSource) -> Result<ScriptScan, Diagnostic> {
    let mut interner = Interner::default();
    let parsed = Parser::new(Source::from_bytes(&source.text))
        .parse_script(&Scope::new_global(), &mut interner);
    let script = match parsed {
        Ok(script) => script,
        Err(e) => {
            let (line, column, message) = syntax_error(&e, &source.text);
            return Err(Diagnostic {
                file: source.path.display().to_string(),
                line,
                column,
                message,
            });
        }
    };
    let mut scan = ScriptScan::default();
    for item in script.statements().statements() {
        global_functions(item, &interner, &mut scan.functions);
    }
    let mut calls = Calls {
        interner: &interner,
        out: Vec::new(),
    };
    // The visitor never breaks.
    let _ = script.visit_with(&mut calls);
    scan.calls = calls.out;
    Ok(scan)
}

/// The names a top-level item makes callable as global functions: what
/// the engine can find on the global object. `let` and `const` bindings
/// are not properties of the global object, so they do not count.
fn global_functions(item: &StatementListItem, interner: &Interner, out: &mut Vec<String>) {
    let mut add = |id: Identifier| {
        if let Some(name) = resolve(interner, id.sym()) {
            out.push(name);
        }
    };
    match item {
        StatementListItem::Declaration(decl) => match &**decl {
            Declaration::FunctionDeclaration(f) => add(f.name()),
            Declaration::GeneratorDeclaration(f) => add(f.name()),
            Declaration::AsyncFunctionDeclaration(f) => add(f.name()),
            Declaration::AsyncGeneratorDeclaration(f) => add(f.name()),
            _ => {}
        },
        StatementListItem::Statement(stmt) => match &**stmt {
            Statement::Var(var) => {
                for v in var.0.as_ref() {
                    if let (Binding::Identifier(id), Some(init)) = (v.binding(), v.init()) {
                        if is_function(init) {
                            add(*id);
                        }
                    }
                }
            }
            // `f = function () {}` at the top level creates a global too.
            Statement::Expression(Expression::Assign(assign)) => {
                if let (AssignOp::Assign, AssignTarget::Identifier(id)) =
                    (assign.op(), assign.lhs())
                {
                    if is_function(assign.rhs()) {
                        add(*id);
                    }
                }
            }
            _ => {}
        },
    }
}

fn is_function(e: &Expression) -> bool {
    matches!(
        e,
        Expression::FunctionExpression(_)
            | Expression::ArrowFunction(_)
            | Expression::AsyncArrowFunction(_)
            | Expression::AsyncFunctionExpression(_)
            | Expression::GeneratorExpression(_)
            | Expression::AsyncGeneratorExpression(_)
    )
}

pub(super) fn resolve(interner: &Interner, sym: Sym) -> Option<String> {
    interner.resolve(sym).map(|s| s.to_string())
}

/// Collects `KSR.f(...)`, `KSR.m.f(...)` and `KSR_m.f(...)` calls.
struct Calls<'i> {
    interner: &'i Interner,
    out: Vec<CallSite>,
}

/// `(module, name)` when `callee` is `KSR.f`, `KSR.m.f` or `KSR_m.f`
/// (module `""` for `KSR.f`).
pub(super) fn ksr_path(interner: &Interner, callee: &Expression) -> Option<(String, String)> {
    let (target, name) = simple_access(callee)?;
    let name = resolve(interner, name.sym())?;
    match target {
        Expression::Identifier(id) => {
            let object = resolve(interner, id.sym())?;
            if object == "KSR" {
                Some((String::new(), name))
            } else {
                let module = object.strip_prefix("KSR_")?;
                Some((module.to_owned(), name))
            }
        }
        _ => {
            let (root, module) = simple_access(target)?;
            match root {
                Expression::Identifier(id)
                    if resolve(interner, id.sym()).as_deref() == Some("KSR") =>
                {
                    Some((resolve(interner, module.sym())?, name))
                }
                _ => None,
            }
        }
    }
}

/// `target.name` with a plain identifier as the name.
fn simple_access(e: &Expression) -> Option<(&Expression, Identifier)> {
    match e {
        Expression::PropertyAccess(PropertyAccess::Simple(access)) => match access.field() {
            PropertyAccessField::Const(id) => Some((access.target(), *id)),
            PropertyAccessField::Expr(_) => None,
        },
        _ => None,
    }
}

impl<'ast> Visitor<'ast> for Calls<'_> {
    type BreakTy = ();

    fn visit_call(&mut self, node: &'ast Call) -> ControlFlow<()> {
        if let Some((module, name)) = ksr_path(self.interner, node.function()) {
            // The callee's start: where `KSR` is written.
            let start = node.function().span().start();
            let first_str_arg = match node.args().first() {
                Some(Expression::Literal(lit)) => match lit.kind() {
                    LiteralKind::String(sym) => resolve(self.interner, *sym),
                    _ => None,
                },
                _ => None,
            };
            self.out.push(CallSite {
                module,
                name,
                argc: node.args().len(),
                first_str_arg,
                line: start.line_number(),
                column: start.column_number(),
            });
        }
        // Calls nested in the arguments or the callee.
        node.visit_with(self)
    }
}
