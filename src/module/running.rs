//! The running set of modules: the ones a configuration loads, each with
//! the state its `init` made, the timer thread that runs their periodic
//! work, and what each keeps for the message being routed.

use std::any::Any;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{all, Control, ParamValues, RpcError, StatKind};
use crate::config::Config;
use crate::log;

/// What a module's `init` is given.
pub struct InitCtx<'a> {
    /// The module's `loadmodule` name.
    pub name: &'static str,
    /// The module's own `modparam`s.
    pub values: ParamValues<'a>,
    /// The modules already made (every dependency is).
    pub modules: &'a Modules,
    tm_env: Option<&'a std::sync::Weak<dyn crate::tm::TmEnv>>,
}

impl<'a> InitCtx<'a> {
    /// The module's parameter struct.
    pub fn params<P: super::FromModParams>(&self) -> P {
        P::from_values(&self.values)
    }

    /// How the transaction layer reaches the server (sending, the Via
    /// address, jobs for the workers); `None` in tools and tests.
    pub fn tm_env(&self) -> Option<std::sync::Weak<dyn crate::tm::TmEnv>> {
        self.tm_env.cloned()
    }
}

/// The modules a configuration loads, with their state.
pub struct Modules {
    /// By slot of the module table: whether loaded, and the state.
    loaded: Vec<bool>,
    states: Vec<Option<Box<dyn Any + Send + Sync>>>,
    /// Slots in the order their init ran (dependencies first).
    order: Vec<usize>,
    stop: Arc<AtomicBool>,
    timer: Mutex<Option<JoinHandle<()>>>,
}

impl Modules {
    /// No module loaded.
    pub fn none() -> Modules {
        let n = all().len();
        Modules {
            loaded: vec![false; n],
            states: (0..n).map(|_| None).collect(),
            order: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            timer: Mutex::new(None),
        }
    }

    /// Makes the state of every module `config` loads, dependencies first.
    /// `tm_env` is how the transaction layer reaches the server.
    pub fn start(
        config: &Config,
        tm_env: Option<&std::sync::Weak<dyn crate::tm::TmEnv>>,
    ) -> Result<Modules, String> {
        Modules::start_with(&config.modules, &config.modparams, tm_env)
    }

    /// [`Modules::start`] for module names and parameters.
    pub fn start_with(
        names: &[String],
        modparams: &[crate::config::ModParam],
        tm_env: Option<&std::sync::Weak<dyn crate::tm::TmEnv>>,
    ) -> Result<Modules, String> {
        let mut m = Modules::none();
        let table = all();
        let mut pending: Vec<usize> = names
            .iter()
            .filter_map(|name| table.iter().position(|e| e.module.name() == name))
            .collect();
        while !pending.is_empty() {
            // The first pending module whose dependencies are all made; a
            // dependency that is not loaded at all was refused by the cfg
            // reader, so only a cycle leaves none ready.
            let ready = pending.iter().position(|&slot| {
                table[slot].module.deps().iter().all(|d| {
                    !pending
                        .iter()
                        .any(|&p| p != slot && table[p].module.name() == d.module)
                })
            });
            let Some(i) = ready else {
                let names: Vec<&str> = pending.iter().map(|&s| table[s].module.name()).collect();
                return Err(format!(
                    "modules that need each other: {}",
                    names.join(", ")
                ));
            };
            let slot = pending.remove(i);
            let entry = &table[slot];
            let state = {
                let cx = InitCtx {
                    name: entry.module.name(),
                    values: ParamValues::new(entry.module.name(), modparams),
                    modules: &m,
                    tm_env,
                };
                entry.module.init(&cx)
            };
            match state {
                Some(Ok(s)) => m.states[slot] = Some(s),
                Some(Err(e)) => {
                    return Err(format!("module {}: {e}", entry.module.name()));
                }
                None => {}
            }
            m.loaded[slot] = true;
            m.order.push(slot);
        }
        Ok(m)
    }

    /// The state in `slot`, when that module is loaded and has one.
    #[inline]
    pub(super) fn state_at(&self, slot: usize) -> Option<&(dyn Any + Send + Sync)> {
        self.states.get(slot)?.as_deref()
    }

    /// Whether the module of that `loadmodule` name is loaded.
    pub fn is_loaded(&self, name: &str) -> bool {
        all()
            .iter()
            .position(|e| e.module.name() == name)
            .is_some_and(|slot| self.loaded[slot])
    }

    /// The state of a loaded module as type `T`, found by name: for the
    /// core, which knows the types of its own services (the transaction
    /// layer) but no module.
    pub fn service<T: 'static>(&self, name: &str) -> Option<&T> {
        let slot = all().iter().position(|e| e.module.name() == name)?;
        self.state_at(slot)?.downcast_ref::<T>()
    }

    /// The loaded modules, in init order.
    pub fn loaded(&self) -> impl Iterator<Item = &'static super::ModuleEntry> + '_ {
        let table = all();
        self.order.iter().map(move |&s| &table[s])
    }

    /// The control methods of the loaded modules: name and help.
    pub fn rpc_methods(&self) -> Vec<(&'static str, &'static str)> {
        self.loaded().flat_map(|e| e.module.rpc_methods()).collect()
    }

    /// Runs control method `name` of a loaded module; `None` when no loaded
    /// module has it.
    pub fn call_rpc(
        &self,
        name: &str,
        params: &[serde_json::Value],
        control: &dyn Control,
    ) -> Option<Result<serde_json::Value, RpcError>> {
        for &slot in &self.order {
            let entry = &all()[slot];
            if !entry.module.rpc_methods().iter().any(|(n, _)| *n == name) {
                continue;
            }
            return match self.state_at(slot) {
                Some(state) => entry.module.call_rpc(state, name, params, control),
                None => Some(Err(RpcError::new(
                    500,
                    format!("{} has no state to answer {name}", entry.module.name()),
                ))),
            };
        }
        None
    }

    /// Whether some module, loaded or not, has control method `name`
    /// (for an error that says which module to load).
    pub fn rpc_owner(name: &str) -> Option<&'static str> {
        all()
            .iter()
            .find(|e| e.module.rpc_methods().iter().any(|(n, _)| *n == name))
            .map(|e| e.module.name())
    }

    /// The statistics of the loaded modules: group (the module name), name,
    /// kind, value.
    pub fn statistics(&self) -> Vec<(&'static str, &'static str, StatKind, u64)> {
        let mut out = Vec::new();
        for &slot in &self.order {
            let entry = &all()[slot];
            let Some(state) = self.state_at(slot) else {
                continue;
            };
            let kinds = entry.module.stat_decls();
            for (name, value) in entry.module.stat_values(state) {
                let kind = kinds
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .map_or(StatKind::Counter, |k| k.1);
                out.push((entry.module.name(), name, kind, value));
            }
        }
        out
    }

    /// Starts the thread that runs the loaded modules' timers, each at its
    /// declared interval. Nothing starts when no loaded module has one.
    pub fn start_timers(self: &Arc<Modules>) {
        let mut timers = Vec::new();
        for &slot in &self.order {
            let entry = &all()[slot];
            let Some(state) = self.state_at(slot) else {
                continue;
            };
            for (i, name) in entry.module.timer_decls().into_iter().enumerate() {
                if let Some(every) = entry.module.timer_interval(state, i) {
                    let every = every.max(Duration::from_millis(10));
                    timers.push((slot, i, name, every, Instant::now() + every));
                }
            }
        }
        if timers.is_empty() {
            return;
        }
        // The thread holds the modules weakly: it ends when they are
        // dropped, or at shutdown.
        let me = Arc::downgrade(self);
        let stop = Arc::clone(&self.stop);
        let spawned = std::thread::Builder::new()
            .name("kemid-timer".into())
            .spawn(move || run_timers(&me, &stop, timers));
        match spawned {
            Ok(h) => {
                *self.timer.lock().unwrap_or_else(|p| p.into_inner()) = Some(h);
            }
            Err(e) => log::error(
                "core",
                format_args!("cannot start the module timer thread: {e}"),
            ),
        }
    }

    /// Stops the timers and runs every shutdown hook, the last module made
    /// first. Called once, after the workers ended.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        let handle = self.timer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        for &slot in self.order.iter().rev() {
            let entry = &all()[slot];
            if let (true, Some(state)) = (entry.module.has_shutdown(), self.state_at(slot)) {
                entry.module.run_shutdown(state);
            }
        }
    }
}

#[cfg(test)]
impl Modules {
    /// For tests: `modules` loaded (their dependencies too) with `params`.
    pub fn for_test(modules: &[&str], params: &[(&str, &str, crate::config::CfgValue)]) -> Modules {
        let mut names: Vec<String> = Vec::new();
        fn add(names: &mut Vec<String>, n: &str) {
            if names.iter().any(|x| x == n) {
                return;
            }
            if let Some(e) = super::find(n) {
                for d in e.module.deps() {
                    add(names, d.module);
                }
            }
            names.push(n.to_owned());
        }
        for m in modules.iter().copied().chain(params.iter().map(|p| p.0)) {
            add(&mut names, m);
        }
        let modparams: Vec<crate::config::ModParam> = params
            .iter()
            .map(|(m, n, v)| crate::config::ModParam {
                module: (*m).to_owned(),
                name: (*n).to_owned(),
                value: v.clone(),
                at: crate::config::At {
                    file: "test.cfg".into(),
                    line: 1,
                },
            })
            .collect();
        Modules::start_with(&names, &modparams, None)
            .unwrap_or_else(|e| panic!("modules for a test: {e}"))
    }
}

impl Drop for Modules {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// The timer thread: runs each due timer, sleeping at most 100 ms so a
/// stop is seen quickly.
fn run_timers(
    modules: &std::sync::Weak<Modules>,
    stop: &AtomicBool,
    mut timers: Vec<(usize, usize, &'static str, Duration, Instant)>,
) {
    const POLL: Duration = Duration::from_millis(100);
    while !stop.load(Ordering::Acquire) {
        let now = Instant::now();
        for (slot, i, name, every, due) in &mut timers {
            if *due > now {
                continue;
            }
            let Some(m) = modules.upgrade() else { return };
            let entry = &all()[*slot];
            if let Some(state) = m.state_at(*slot) {
                log::debug("core", format_args!("timer {}.{name}", entry.module.name()));
                entry.module.run_timer(state, *i);
            }
            *due = now + *every;
        }
        let next = timers.iter().map(|t| t.4).min().unwrap_or(now + POLL);
        std::thread::sleep(next.saturating_duration_since(Instant::now()).min(POLL));
    }
}

/// What a module keeps for one message (rr's added Record-Routes, the
/// reply registrar prepared). Kept with the message's state, copied with
/// it into a transaction.
pub trait MsgData: Any + Send + Debug {
    fn clone_box(&self) -> Box<dyn MsgData>;
    fn eq_dyn(&self, other: &dyn MsgData) -> bool;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Send + Debug + Clone + PartialEq> MsgData for T {
    fn clone_box(&self) -> Box<dyn MsgData> {
        Box::new(self.clone())
    }
    fn eq_dyn(&self, other: &dyn MsgData) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Every module's data for one message, by module slot. Empty (and
/// allocation-free) until a module keeps something.
#[derive(Debug, Default)]
pub struct ModuleData(Vec<(usize, Box<dyn MsgData>)>);

impl ModuleData {
    pub fn get<T: MsgData>(&self, slot: usize) -> Option<&T> {
        self.0
            .iter()
            .find(|(s, _)| *s == slot)
            .and_then(|(_, d)| (**d).as_any().downcast_ref::<T>())
    }

    pub fn get_or_default<T: MsgData + Default>(&mut self, slot: usize) -> &mut T {
        let i = match self.0.iter().position(|(s, _)| *s == slot) {
            Some(i) if (*self.0[i].1).as_any().is::<T>() => i,
            Some(i) => {
                self.0[i].1 = Box::new(T::default());
                i
            }
            None => {
                self.0.push((slot, Box::new(T::default())));
                self.0.len() - 1
            }
        };
        match (*self.0[i].1).as_any_mut().downcast_mut::<T>() {
            Some(t) => t,
            None => unreachable!("the slot was just given a T"),
        }
    }
}

impl Clone for ModuleData {
    fn clone(&self) -> ModuleData {
        ModuleData(
            self.0
                .iter()
                .map(|(s, d)| (*s, (**d).clone_box()))
                .collect(),
        )
    }
}

impl PartialEq for ModuleData {
    fn eq(&self, other: &ModuleData) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().all(|(s, d)| {
                other
                    .0
                    .iter()
                    .any(|(os, od)| os == s && (**d).eq_dyn(&**od))
            })
    }
}

impl Eq for ModuleData {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Default, PartialEq)]
    struct Seen(u32);

    #[test]
    fn module_data_per_slot() {
        let mut d = ModuleData::default();
        assert!(d.get::<Seen>(3).is_none());
        d.get_or_default::<Seen>(3).0 = 7;
        d.get_or_default::<Seen>(4).0 = 1;
        assert_eq!(d.get::<Seen>(3), Some(&Seen(7)));
        let copy = d.clone();
        assert_eq!(copy, d);
        d.get_or_default::<Seen>(4).0 = 2;
        assert_ne!(copy, d);
        assert!(d.get::<String>(3).is_none(), "another type in the slot");
    }
}
