//! The module contract: what a module under `src/modules/<name>/` declares
//! about itself, and the running set of loaded modules.
//!
//! A module is one folder. In it, and nowhere else, it declares:
//! - its `KSR` exports: `#[kemi]` functions (see `registry`);
//! - its parameters: one struct deriving [`ModParams`](kemid_macros::ModParams),
//!   a typed field per `modparam` with its doc comment and `#[param(...)]`
//!   (default, range, allowed values, whether kemid acts on it). The build
//!   step reads it, as it reads `#[kemi]`, and generates the checks the cfg
//!   reader applies, the struct's reader and the docs;
//! - everything else in one `pub static MODULE: Module<State>`: its
//!   `loadmodule` name, the modules it needs, its state (made at start from
//!   its parameters and shared by the workers), its control methods, its
//!   statistics, its timers and its shutdown hook.
//!
//! The generated table ([`all`]) lists every module, sorted by folder. [`Modules`] is the running set: the modules a
//! configuration loads, each with its state, reached by a module through
//! its own typed handle ([`Module::state`]). Nothing here names a concrete
//! module: the core imports none.

mod params;
mod running;

use std::any::Any;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

pub use params::{
    check_modparam, find_param, FromModParams, ParamDecl, ParamKind, ParamValues, Range,
};
pub use running::{InitCtx, ModuleData, Modules, MsgData};

/// A module another one needs, with the reason shown when it is missing.
#[derive(Debug)]
pub struct Dep {
    /// The `loadmodule` name.
    pub module: &'static str,
    /// What the module needs it for.
    pub why: &'static str,
}

/// A JSON-RPC control method of a module, named as Kamailio names it
/// (`ul.dump`, `tm.stats`).
pub struct RpcMethod<S> {
    pub name: &'static str,
    pub help: &'static str,
    pub handler: fn(&RpcCall<'_, S>) -> Result<Value, RpcError>,
}

/// One call of a control method: the module's state and the parameters.
pub struct RpcCall<'a, S> {
    pub state: &'a S,
    pub params: &'a [Value],
    /// What the server itself can be asked (reloading the script).
    pub control: &'a dyn Control,
}

/// What a control method may ask of the server beyond its module.
pub trait Control {
    /// Loads the routing script again in the engine of `module` (`app_jsdt`,
    /// `app_sqlang`) and answers as `<module>.reload` does.
    fn reload(&self, module: &str) -> Result<Value, RpcError>;
}

/// A JSON-RPC error: code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// `-32602`: the parameters are wrong.
    pub fn bad_params(message: impl Into<String>) -> RpcError {
        RpcError::new(-32602, message)
    }
}

/// Whether a statistic counts up for ever or goes up and down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatKind {
    Counter,
    Gauge,
}

impl StatKind {
    pub fn name(self) -> &'static str {
        match self {
            StatKind::Counter => "counter",
            StatKind::Gauge => "gauge",
        }
    }
}

/// A statistic, served by `stats.get_statistics` as `<module>:<name>`.
pub struct Stat<S> {
    pub name: &'static str,
    pub doc: &'static str,
    pub kind: StatKind,
    pub read: fn(&S) -> u64,
}

/// Work a module wants done periodically, off the message path.
pub struct Timer<S> {
    pub name: &'static str,
    /// How often, from the module's state (its parameters).
    pub interval: fn(&S) -> Duration,
    pub run: fn(&S),
}

/// How a module makes its state from the configuration.
pub type InitFn<S> = fn(&InitCtx<'_>) -> Result<S, String>;

/// A module's declaration. Built with `const` methods so it can be a
/// `static`:
///
/// ```ignore
/// pub static MODULE: Module<Params> = Module::new("maxfwd", "Max-Forwards processing")
///     .init(Params::from_init);
/// ```
pub struct Module<S: 'static> {
    name: &'static str,
    summary: &'static str,
    always_present: bool,
    deps: &'static [Dep],
    init: Option<InitFn<S>>,
    rpc: &'static [RpcMethod<S>],
    stats: &'static [Stat<S>],
    timers: &'static [Timer<S>],
    shutdown: Option<fn(&S)>,
    /// Its index in [`all`], set when the table is first read.
    slot: AtomicUsize,
    _state: PhantomData<fn() -> S>,
}

const NO_SLOT: usize = usize::MAX;

impl<S: Send + Sync + 'static> Module<S> {
    /// A module loaded by `loadmodule "<name>.so"`, with a one-line summary.
    pub const fn new(name: &'static str, summary: &'static str) -> Module<S> {
        Module {
            name,
            summary,
            always_present: false,
            deps: &[],
            init: None,
            rpc: &[],
            stats: &[],
            timers: &[],
            shutdown: None,
            slot: AtomicUsize::new(NO_SLOT),
            _state: PhantomData,
        }
    }

    /// Its `KSR` functions are there whether or not the configuration
    /// loads it (`KSR.pv`): `loadmodule` only sets its parameters.
    pub const fn always_present(mut self) -> Module<S> {
        self.always_present = true;
        self
    }

    pub const fn deps(mut self, deps: &'static [Dep]) -> Module<S> {
        self.deps = deps;
        self
    }

    /// How the state is made at start; a module without it has none.
    pub const fn init(mut self, init: InitFn<S>) -> Module<S> {
        self.init = Some(init);
        self
    }

    pub const fn rpc(mut self, rpc: &'static [RpcMethod<S>]) -> Module<S> {
        self.rpc = rpc;
        self
    }

    pub const fn stats(mut self, stats: &'static [Stat<S>]) -> Module<S> {
        self.stats = stats;
        self
    }

    pub const fn timers(mut self, timers: &'static [Timer<S>]) -> Module<S> {
        self.timers = timers;
        self
    }

    /// Run once when the server stops, after the workers ended.
    pub const fn shutdown(mut self, f: fn(&S)) -> Module<S> {
        self.shutdown = Some(f);
        self
    }

    /// This module's state in `modules`, when it is loaded there.
    #[inline]
    pub fn state_in<'m>(&self, modules: &'m Modules) -> Option<&'m S> {
        modules.state_at(self.slot())?.downcast_ref::<S>()
    }

    /// This module's state for the callback `ctx` runs; `None` when the
    /// configuration did not load it (or in tools without a server).
    #[inline]
    pub fn state<'m>(&self, ctx: &crate::ctx::Ctx<'m>) -> Option<&'m S> {
        self.state_in(ctx.modules()?)
    }

    /// What this module keeps for the message being routed, made on first
    /// use.
    pub fn msg_data_mut<'s, T: MsgData + Default>(
        &self,
        state: &'s mut crate::ctx::MsgState,
    ) -> &'s mut T {
        state.module_data.get_or_default::<T>(self.slot())
    }

    /// What this module keeps for the message, if anything yet.
    pub fn msg_data<'s, T: MsgData>(&self, state: &'s crate::ctx::MsgState) -> Option<&'s T> {
        state.module_data.get::<T>(self.slot())
    }

    #[inline]
    fn slot(&self) -> usize {
        let s = self.slot.load(Ordering::Relaxed);
        if s != NO_SLOT {
            return s;
        }
        // The table sets every slot the first time it is read.
        let _ = all();
        self.slot.load(Ordering::Relaxed)
    }
}

/// What the running set needs of any module, whatever its state type.
pub trait AnyModule: Sync {
    fn name(&self) -> &'static str;
    fn summary(&self) -> &'static str;
    fn always_present(&self) -> bool;
    fn deps(&self) -> &'static [Dep];
    fn set_slot(&self, slot: usize);
    /// Makes the state; `None` for a module without one.
    fn init(&self, cx: &InitCtx<'_>) -> Option<Result<Box<dyn Any + Send + Sync>, String>>;
    /// Its control methods: name and help.
    fn rpc_methods(&self) -> Vec<(&'static str, &'static str)>;
    /// Runs control method `name` on `state`; `None` when it has none of
    /// that name.
    fn call_rpc(
        &self,
        state: &(dyn Any + Send + Sync),
        name: &str,
        params: &[Value],
        control: &dyn Control,
    ) -> Option<Result<Value, RpcError>>;
    /// Its statistics: name, kind and doc.
    fn stat_decls(&self) -> Vec<(&'static str, StatKind, &'static str)>;
    /// The current values of its statistics.
    fn stat_values(&self, state: &(dyn Any + Send + Sync)) -> Vec<(&'static str, u64)>;
    /// Its timers: name and interval for `state`.
    fn timer_decls(&self) -> Vec<&'static str>;
    fn timer_interval(&self, state: &(dyn Any + Send + Sync), i: usize) -> Option<Duration>;
    fn run_timer(&self, state: &(dyn Any + Send + Sync), i: usize);
    fn has_shutdown(&self) -> bool;
    fn run_shutdown(&self, state: &(dyn Any + Send + Sync));
}

impl<S: Send + Sync + 'static> AnyModule for Module<S> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn summary(&self) -> &'static str {
        self.summary
    }
    fn always_present(&self) -> bool {
        self.always_present
    }
    fn deps(&self) -> &'static [Dep] {
        self.deps
    }
    fn set_slot(&self, slot: usize) {
        self.slot.store(slot, Ordering::Relaxed);
    }
    fn init(&self, cx: &InitCtx<'_>) -> Option<Result<Box<dyn Any + Send + Sync>, String>> {
        let init = self.init?;
        Some(init(cx).map(|s| Box::new(s) as Box<dyn Any + Send + Sync>))
    }
    fn rpc_methods(&self) -> Vec<(&'static str, &'static str)> {
        self.rpc.iter().map(|m| (m.name, m.help)).collect()
    }
    fn call_rpc(
        &self,
        state: &(dyn Any + Send + Sync),
        name: &str,
        params: &[Value],
        control: &dyn Control,
    ) -> Option<Result<Value, RpcError>> {
        let m = self.rpc.iter().find(|m| m.name == name)?;
        let state = state.downcast_ref::<S>()?;
        Some((m.handler)(&RpcCall {
            state,
            params,
            control,
        }))
    }
    fn stat_decls(&self) -> Vec<(&'static str, StatKind, &'static str)> {
        self.stats.iter().map(|s| (s.name, s.kind, s.doc)).collect()
    }
    fn stat_values(&self, state: &(dyn Any + Send + Sync)) -> Vec<(&'static str, u64)> {
        let Some(state) = state.downcast_ref::<S>() else {
            return Vec::new();
        };
        self.stats
            .iter()
            .map(|s| (s.name, (s.read)(state)))
            .collect()
    }
    fn timer_decls(&self) -> Vec<&'static str> {
        self.timers.iter().map(|t| t.name).collect()
    }
    fn timer_interval(&self, state: &(dyn Any + Send + Sync), i: usize) -> Option<Duration> {
        Some((self.timers.get(i)?.interval)(state.downcast_ref::<S>()?))
    }
    fn run_timer(&self, state: &(dyn Any + Send + Sync), i: usize) {
        if let (Some(t), Some(s)) = (self.timers.get(i), state.downcast_ref::<S>()) {
            (t.run)(s);
        }
    }
    fn has_shutdown(&self) -> bool {
        self.shutdown.is_some()
    }
    fn run_shutdown(&self, state: &(dyn Any + Send + Sync)) {
        if let (Some(f), Some(s)) = (self.shutdown, state.downcast_ref::<S>()) {
            f(s);
        }
    }
}

/// One entry of the generated module table.
pub struct ModuleEntry {
    /// The folder under `src/modules/` (the `KSR` name).
    pub folder: &'static str,
    pub module: &'static dyn AnyModule,
    /// Its parameters, from its `ModParams` struct.
    pub params: &'static [ParamDecl],
    /// Its doc (the `//!` of its root file).
    pub doc: &'static str,
}

/// Every module kemid has, sorted by folder.
pub fn all() -> &'static [ModuleEntry] {
    static SLOTS: std::sync::Once = std::sync::Once::new();
    let table = crate::registry::module_table();
    SLOTS.call_once(|| {
        for (i, e) in table.iter().enumerate() {
            e.module.set_slot(i);
        }
    });
    table
}

/// A module by its `loadmodule` name.
pub fn find(name: &str) -> Option<&'static ModuleEntry> {
    all().iter().find(|e| e.module.name() == name)
}

/// The `loadmodule` names, sorted, for error messages.
pub fn names() -> String {
    let mut names: Vec<&str> = all().iter().map(|e| e.module.name()).collect();
    names.sort_unstable();
    names.join(", ")
}

/// The `loadmodule` name for a file given to `loadmodule`:
/// `"tm.so"`, `"tm"`, `"/usr/lib/kamailio/modules/tm.so"`,
/// `"modules/tm/tm.so"` all name `tm`.
pub fn name_of_file(file: &str) -> &str {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.strip_suffix(".so").unwrap_or(base)
}
