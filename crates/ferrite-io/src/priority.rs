//! Best-effort real-time scheduling for the calling thread.

/// Priority asked for on POSIX systems, on `thread-priority`'s 0..=99
/// cross-platform scale (mapped into SCHED_FIFO's 1..=99). High enough to
/// preempt ordinary threads, below JACK's and the kernel's IRQ threads.
const FIFO_PRIORITY: u8 = 70;

/// Asks for SCHED_FIFO (POSIX) or the highest thread priority (Windows) for
/// the calling thread. Returns whether the request was granted; a refusal
/// (no CAP_SYS_NICE, RLIMIT_RTPRIO of 0, a container without the right) is
/// normal and never an error.
///
/// Called once per audio thread, at its first callback.
///
/// # Realtime
///
/// One or two system calls, no allocation, no lock, no panic. Meant for the
/// first callback on the audio thread, not for every callback.
pub fn promote_current_thread() -> bool {
    imp::promote()
}

#[cfg(unix)]
mod imp {
    use thread_priority::unix::{
        set_thread_priority_and_policy, thread_native_id, thread_schedule_policy, RealtimeThreadSchedulePolicy,
        ThreadSchedulePolicy,
    };
    use thread_priority::{ThreadPriority, ThreadPriorityValue};

    pub(super) fn promote() -> bool {
        let Ok(value) = ThreadPriorityValue::try_from(super::FIFO_PRIORITY) else {
            return false;
        };
        let fifo = ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo);
        let granted =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Crossplatform(value), fifo).is_ok();
        // Confirm by reading the policy back rather than trusting the return code.
        granted && matches!(thread_schedule_policy(), Ok(policy) if policy == fifo)
    }
}

#[cfg(windows)]
mod imp {
    pub(super) fn promote() -> bool {
        thread_priority::ThreadPriority::Max.set_for_current().is_ok()
    }
}

#[cfg(not(any(unix, windows)))]
mod imp {
    pub(super) fn promote() -> bool {
        false
    }
}
