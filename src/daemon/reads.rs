//! How many paged reads (`broadcast_show`, `broadcast_list`, `group_show`, `group_list`,
//! `member_list`, `member_show`) are answered at once: at most [`READS_PER_UID`] per user who
//! is not an administrator and [`USER_READS`] of such users in all; administrators have
//! [`ADMIN_READS`] of their own, so users never make them wait. A read past these waits its
//! turn (in order), holding no memory: many clients asking at once queue instead of each
//! building its answer at the same moment. A turn lasts until the answer is written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

use crate::service::{Caller, Principal};

/// Paged reads one user who is not an administrator may have answered at once.
pub const READS_PER_UID: usize = 2;
/// Paged reads of users who are not administrators answered at once, in all.
pub const USER_READS: usize = 8;
/// Paged reads of administrators answered at once.
pub const ADMIN_READS: usize = 8;

#[derive(Debug)]
pub struct ReadGate {
    users: Semaphore,
    admins: Semaphore,
    by_uid: Mutex<HashMap<Principal, Arc<Semaphore>>>,
}

/// A turn to read; the next waiting read goes when it is dropped.
#[derive(Debug)]
pub struct ReadTurn<'a> {
    gate: &'a ReadGate,
    who: Principal,
    mine: Option<OwnedSemaphorePermit>,
    _all: SemaphorePermit<'a>,
}

impl Default for ReadGate {
    fn default() -> Self {
        ReadGate {
            users: Semaphore::new(USER_READS),
            admins: Semaphore::new(ADMIN_READS),
            by_uid: Mutex::default(),
        }
    }
}

impl ReadGate {
    fn by_uid(&self) -> std::sync::MutexGuard<'_, HashMap<Principal, Arc<Semaphore>>> {
        self.by_uid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for `caller`'s turn.
    pub async fn enter(&self, caller: Caller) -> ReadTurn<'_> {
        if caller.admin {
            return ReadTurn {
                gate: self,
                who: caller.who,
                mine: None,
                // Never closed.
                _all: self.admins.acquire().await.expect("the read gate is open"),
            };
        }
        let own = self
            .by_uid()
            .entry(caller.who)
            .or_insert_with(|| Arc::new(Semaphore::new(READS_PER_UID)))
            .clone();
        let mine = own.acquire_owned().await.expect("the read gate is open");
        let all = self.users.acquire().await.expect("the read gate is open");
        ReadTurn {
            gate: self,
            who: caller.who,
            mine: Some(mine),
            _all: all,
        }
    }

    /// Users with a read answered or waiting (their entries are forgotten after).
    #[cfg(test)]
    fn users_known(&self) -> usize {
        self.by_uid().len()
    }
}

impl Drop for ReadTurn<'_> {
    fn drop(&mut self) {
        if let Some(mine) = self.mine.take() {
            let mut map = self.gate.by_uid();
            drop(mine);
            // Only the map holds it: nobody of this user reads or waits.
            if map
                .get(&self.who)
                .is_some_and(|s| Arc::strong_count(s) == 1)
            {
                map.remove(&self.who);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_user_waits_past_their_share_and_administrators_do_not() {
        let gate = ReadGate::default();
        let user = Caller::unix(1000, &[]);
        let root = Caller::unix(0, &[]);
        let a = gate.enter(user).await;
        let b = gate.enter(user).await;
        let third = tokio::time::timeout(std::time::Duration::from_millis(50), gate.enter(user));
        assert!(third.await.is_err(), "a third read of one user waits");
        // Others, and administrators, are not held up by that user.
        let _other = gate.enter(Caller::unix(1001, &[])).await;
        let admins: Vec<_> = futures_all(&gate, root, ADMIN_READS).await;
        drop(a);
        let _c = gate.enter(user).await;
        drop(b);
        drop(_c);
        assert_eq!(gate.users_known(), 1, "only uid 1001 is still reading");
        drop(admins);
    }

    async fn futures_all(gate: &ReadGate, who: Caller, n: usize) -> Vec<ReadTurn<'_>> {
        let mut turns = Vec::new();
        for _ in 0..n {
            turns.push(gate.enter(who).await);
        }
        turns
    }
}
