//! The shadow: what the program believes SIGHUP's disposition is.
//!
//! The kernel keeps SIGHUP at SIG_IGN; the program's requests are recorded
//! here instead, so that a later query returns what it set (save / set /
//! query / restore round-trips exactly) while nothing ever reaches the
//! kernel.
//!
//! Constraints (docs/HANGUPS.md, "Interposer rules" and "Children"): no
//! lock (a signal handler may re-enter a hook on the thread that is
//! half-way through a write), no allocation, many threads at once, and
//! vfork / CLONE_VM children, which share our memory and must not change
//! the parent's view.
//!
//! Design: every write fills a fresh slot of a small ring, guarded by a
//! per-slot sequence number, and then publishes the slot's generation with
//! one atomic swap. A reader follows the published generation and re-checks
//! the sequence number; writers never wait for anyone, so an interrupted
//! writer cannot block a handler that writes too.

use core::sync::atomic::{fence, AtomicI32, AtomicU64, AtomicUsize, Ordering};

use crate::sys::{self, KSigaction};

/// The disposition the program is told about before it changes anything:
/// SIGHUP is ignored, exactly as the kernel holds it after our constructor
/// (and as it would be after `exec` under nohup: flags, mask and restorer
/// cleared).
pub const INITIAL: KSigaction = KSigaction {
    handler: sys::SIG_IGN,
    flags: 0,
    restorer: 0,
    mask: 0,
};

const RING: usize = 64;

struct Slot {
    /// `2*gen + 1` while being written, `2*gen + 2` once complete.
    seq: AtomicU64,
    handler: AtomicUsize,
    flags: AtomicU64,
    restorer: AtomicUsize,
    mask: AtomicU64,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            seq: AtomicU64::new(0),
            handler: AtomicUsize::new(0),
            flags: AtomicU64::new(0),
            restorer: AtomicUsize::new(0),
            mask: AtomicU64::new(0),
        }
    }

    /// Claims the slot for generation `gen`: fails (without waiting) when
    /// another writer is half-way through it or it holds a newer record.
    /// Two writers must never fill one slot at once, or a reader could
    /// accept a record made of both.
    fn claim(&self, gen: u64) -> bool {
        let cur = self.seq.load(Ordering::Relaxed);
        if cur & 1 == 1 || cur > 2 * gen {
            return false;
        }
        self.seq
            .compare_exchange(cur, 2 * gen + 1, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Fills a claimed slot and marks it complete.
    fn fill(&self, gen: u64, d: &KSigaction) {
        // Orders the claim before the data stores (seqlock writer side).
        fence(Ordering::Release);
        self.handler.store(d.handler, Ordering::Relaxed);
        self.flags.store(d.flags, Ordering::Relaxed);
        self.restorer.store(d.restorer, Ordering::Relaxed);
        self.mask.store(d.mask, Ordering::Relaxed);
        self.seq.store(2 * gen + 2, Ordering::Release);
    }

    /// The record of generation `gen`, unless the slot was reused since.
    fn read(&self, gen: u64) -> Option<KSigaction> {
        for _ in 0..8 {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 != 2 * gen + 2 {
                return None;
            }
            let d = KSigaction {
                handler: self.handler.load(Ordering::Relaxed),
                flags: self.flags.load(Ordering::Relaxed),
                restorer: self.restorer.load(Ordering::Relaxed),
                mask: self.mask.load(Ordering::Relaxed),
            };
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 {
                return Some(d);
            }
        }
        None
    }
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot::new();

/// The program's view of SIGHUP's disposition, shared by its threads.
pub struct Shadow {
    ring: [Slot; RING],
    next_gen: AtomicU64,
    /// Generation of the current record; 0 means `INITIAL`.
    current: AtomicU64,
    /// The process whose memory this is (0 until first use). A writer with
    /// another pid is either a fork child (private copy: it takes over) or
    /// a vfork / CLONE_VM child (shared memory: it must use `side`).
    owner: AtomicI32,
    /// The view of a child that shares our memory, tagged with its pid.
    side_pid: AtomicI32,
    side: Slot,
    side_gen: AtomicU64,
}

/// Who is writing, as far as the shadow is concerned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Writer {
    /// The process that owns this memory.
    Owner,
    /// A child sharing our memory (vfork, CLONE_VM) with this pid.
    SharedChild(i32),
}

impl Shadow {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Shadow {
        Shadow {
            ring: [EMPTY; RING],
            next_gen: AtomicU64::new(0),
            current: AtomicU64::new(0),
            owner: AtomicI32::new(0),
            side_pid: AtomicI32::new(0),
            side: Slot::new(),
            side_gen: AtomicU64::new(0),
        }
    }

    /// Records the owning process (the constructor calls this).
    pub fn claim(&self, pid: i32) {
        let _ = self
            .owner
            .compare_exchange(0, pid, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Decides whether the calling process may write the shared record.
    ///
    /// One `getpid` per write; a `kcmp` only the first time a child writes.
    pub fn writer(&self) -> Writer {
        let pid = sys::getpid();
        let owner = self.owner.load(Ordering::Acquire);
        if owner == pid {
            return Writer::Owner;
        }
        if owner == 0 {
            self.claim(pid);
            return Writer::Owner;
        }
        // Another process runs on this memory image. A vfork/CLONE_VM child
        // is always a child of the process it shares memory with; anything
        // else has a private copy and becomes the owner of that copy.
        let shared = if sys::getppid() != owner {
            false
        } else {
            match sys::same_vm(pid, owner) {
                0 => true,
                r if r > 0 => false,
                // The kernel will not say: assume the worst, keep the
                // parent's view intact.
                _ => true,
            }
        };
        if shared {
            Writer::SharedChild(pid)
        } else {
            self.owner.store(pid, Ordering::Release);
            Writer::Owner
        }
    }

    /// The current record as the calling process sees it.
    pub fn get(&self) -> KSigaction {
        let side = self.side_pid.load(Ordering::Acquire);
        if side != 0 && side == sys::getpid() {
            if let Some(d) = self.side.read(self.side_gen.load(Ordering::Acquire)) {
                return d;
            }
        }
        self.get_main()
    }

    fn get_main(&self) -> KSigaction {
        for _ in 0..16 {
            let gen = self.current.load(Ordering::Acquire);
            if gen == 0 {
                return INITIAL;
            }
            if let Some(d) = self.ring[(gen as usize) % RING].read(gen) {
                return d;
            }
        }
        // More than RING writes raced past us sixteen times: answer with
        // what the kernel really does.
        INITIAL
    }

    /// Replaces the record, returning the previous one.
    pub fn swap(&self, new: &KSigaction, who: Writer) -> KSigaction {
        match who {
            Writer::Owner => {
                // A shared child that wrote before has exec'd or exited by
                // now (the parent of a vfork child is suspended until then).
                if self.side_pid.load(Ordering::Relaxed) != 0 {
                    self.side_pid.store(0, Ordering::Release);
                }
                // Find a free slot: skip one that a writer is filling or
                // that holds the published record. Never waits; bounded.
                let mut claimed = None;
                for _ in 0..4 * RING {
                    let gen = self.next_gen.fetch_add(1, Ordering::AcqRel) + 1;
                    let slot = &self.ring[(gen as usize) % RING];
                    let published = self.current.load(Ordering::Acquire);
                    if published != 0 && (published as usize) % RING == (gen as usize) % RING {
                        continue;
                    }
                    if slot.claim(gen) {
                        slot.fill(gen, new);
                        claimed = Some(gen);
                        break;
                    }
                }
                let Some(gen) = claimed else {
                    // Every slot busy (cannot happen with fewer than RING
                    // concurrent writers): keep the current record.
                    return self.get_main();
                };
                let prev = self.current.swap(gen, Ordering::AcqRel);
                if prev == 0 {
                    return INITIAL;
                }
                self.ring[(prev as usize) % RING]
                    .read(prev)
                    .unwrap_or(INITIAL)
            }
            Writer::SharedChild(pid) => {
                let old = self.get();
                let gen = self.side_gen.load(Ordering::Relaxed) + 1;
                if !self.side.claim(gen) {
                    return old;
                }
                self.side.fill(gen, new);
                self.side_gen.store(gen, Ordering::Release);
                self.side_pid.store(pid, Ordering::Release);
                old
            }
        }
    }
}

/// The kernel's view of a request as glibc would have made it: unknown flag
/// bits cleared, SIGKILL and SIGSTOP removed from the mask.
pub fn as_kernel_stores(mut d: KSigaction) -> KSigaction {
    d.flags &= sys::KERNEL_KEPT_FLAGS;
    d.mask &= !sys::UNBLOCKABLE;
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disp(h: usize, f: u64) -> KSigaction {
        KSigaction {
            handler: h,
            flags: f,
            restorer: 0,
            mask: 0,
        }
    }

    #[test]
    fn starts_ignored() {
        let s = Shadow::new();
        assert_eq!(s.get(), INITIAL);
        assert_eq!(s.get().handler, sys::SIG_IGN);
    }

    #[test]
    fn swap_returns_previous_and_round_trips() {
        let s = Shadow::new();
        s.claim(sys::getpid());
        let old = s.swap(&disp(0x1234, 4), Writer::Owner);
        assert_eq!(old, INITIAL);
        assert_eq!(s.get(), disp(0x1234, 4));
        let old2 = s.swap(&old, Writer::Owner);
        assert_eq!(old2, disp(0x1234, 4));
        assert_eq!(s.get(), INITIAL);
    }

    #[test]
    fn survives_ring_wraparound() {
        let s = Shadow::new();
        s.claim(sys::getpid());
        for i in 0..1000usize {
            let prev = s.swap(&disp(i + 10, 0), Writer::Owner);
            if i > 0 {
                assert_eq!(prev.handler, i + 9);
            }
        }
        assert_eq!(s.get().handler, 1009);
    }

    #[test]
    fn shared_child_writes_do_not_change_the_owner_view() {
        let s = Shadow::new();
        s.claim(sys::getpid());
        s.swap(&disp(0x55, 0), Writer::Owner);
        // A writer with a pid that is not ours is a shared child; its view
        // is kept apart (tagged with its pid, which is not ours).
        let prev = s.swap(&disp(0x66, 0), Writer::SharedChild(sys::getpid() + 1));
        assert_eq!(prev.handler, 0x55);
        assert_eq!(s.get().handler, 0x55);
        // The owner's next write drops the child's view.
        s.swap(&disp(0x77, 0), Writer::Owner);
        assert_eq!(s.side_pid.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn owner_is_the_claiming_process() {
        let s = Shadow::new();
        s.claim(sys::getpid());
        assert_eq!(s.writer(), Writer::Owner);
        // A stale owner that is not our parent: a fork child of a process
        // that has since gone; we take over.
        s.owner.store(i32::MAX - 7, Ordering::Relaxed);
        assert_eq!(s.writer(), Writer::Owner);
        assert_eq!(s.owner.load(Ordering::Relaxed), sys::getpid());
    }

    #[test]
    fn kernel_view_clears_unknown_flags_and_unblockable_signals() {
        let d = as_kernel_stores(KSigaction {
            handler: 5,
            flags: 0xffff_ffff_ffff_ffff,
            restorer: 0,
            mask: u64::MAX,
        });
        assert_eq!(d.flags, sys::KERNEL_KEPT_FLAGS);
        assert_eq!(d.mask & sys::sigbit(sys::SIGKILL), 0);
        assert_eq!(d.mask & sys::sigbit(sys::SIGSTOP), 0);
        assert_ne!(d.mask & sys::sigbit(sys::SIGHUP), 0);
    }

    #[test]
    fn concurrent_writers_never_tear_a_record() {
        use std::sync::Arc;
        let s = Arc::new(Shadow::new());
        s.claim(sys::getpid());
        let mut hs = vec![];
        for t in 0..8u64 {
            let s = s.clone();
            hs.push(std::thread::spawn(move || {
                for i in 0..20_000u64 {
                    let v = (t << 32) | i;
                    // Each record's fields agree with each other.
                    let rec = KSigaction {
                        handler: v as usize + 2,
                        flags: v,
                        restorer: v as usize,
                        mask: v,
                    };
                    let prev = s.swap(&rec, Writer::Owner);
                    if prev != INITIAL {
                        assert_eq!(prev.flags, prev.mask);
                        assert_eq!(prev.handler, prev.flags as usize + 2);
                    }
                    let cur = s.get();
                    if cur != INITIAL {
                        assert_eq!(cur.flags, cur.mask);
                    }
                }
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
    }
}
