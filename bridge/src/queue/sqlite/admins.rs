//! [`Admins`] on SQLite.

use rusqlite::{OptionalExtension, Row, params};

use super::SqliteQueue;
use crate::queue::{AdminAccount, AdminSession, Admins, QueueError};

const ACCOUNT: &str = "SELECT name, role, secret_hash, failed_logins, locked_until, created_at FROM bridge_admins";

fn account(r: &Row<'_>) -> rusqlite::Result<AdminAccount> {
    Ok(AdminAccount {
        name: r.get(0)?,
        role: r.get(1)?,
        secret_hash: r.get(2)?,
        failed_logins: r.get(3)?,
        locked_until_ms: r.get(4)?,
        created_at_ms: r.get(5)?,
    })
}

impl Admins for SqliteQueue {
    fn add_admin(&self, name: &str, role: &str, secret_hash: &str, now_ms: i64) -> Result<bool, QueueError> {
        self.write(|tx| {
            Ok(tx.execute(
                "INSERT INTO bridge_admins (name, role, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                params![name, role, secret_hash, now_ms],
            )? == 1)
        })
    }

    fn reset_admin(&self, name: &str, secret_hash: &str) -> Result<bool, QueueError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE bridge_admins SET secret_hash = ?2, failed_logins = 0, locked_until = NULL WHERE name = ?1",
                params![name, secret_hash],
            )?;
            tx.execute("DELETE FROM bridge_admin_sessions WHERE admin = ?1", [name])?;
            Ok(changed == 1)
        })
    }

    fn remove_admin(&self, name: &str) -> Result<bool, QueueError> {
        self.write(|tx| {
            tx.execute("DELETE FROM bridge_admin_sessions WHERE admin = ?1", [name])?;
            Ok(tx.execute("DELETE FROM bridge_admins WHERE name = ?1", [name])? == 1)
        })
    }

    fn admins(&self) -> Result<Vec<AdminAccount>, QueueError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{ACCOUNT} ORDER BY name"))?;
        Ok(stmt.query_map([], account)?.collect::<Result<_, _>>()?)
    }

    fn admin(&self, name: &str) -> Result<Option<AdminAccount>, QueueError> {
        let conn = self.conn();
        Ok(conn.query_row(&format!("{ACCOUNT} WHERE name = ?1"), [name], account).optional()?)
    }

    fn login_failed(&self, name: &str, lock_after: u32, lock_until_ms: i64) -> Result<u32, QueueError> {
        self.write(|tx| {
            let failures = tx
                .query_row(
                    "UPDATE bridge_admins SET failed_logins = failed_logins + 1,
                         locked_until = CASE WHEN failed_logins + 1 >= ?2 THEN ?3 ELSE locked_until END
                     WHERE name = ?1 RETURNING failed_logins",
                    params![name, lock_after, lock_until_ms],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(failures.unwrap_or(0))
        })
    }

    fn login_succeeded(&self, name: &str) -> Result<(), QueueError> {
        self.write(|tx| {
            tx.execute("UPDATE bridge_admins SET failed_logins = 0, locked_until = NULL WHERE name = ?1", [name])?;
            Ok(())
        })
    }

    fn open_session(
        &self,
        token_hash: &str,
        admin: &str,
        csrf: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), QueueError> {
        self.write(|tx| {
            tx.execute("DELETE FROM bridge_admin_sessions WHERE expires_at <= ?1", [now_ms])?;
            tx.execute(
                "INSERT INTO bridge_admin_sessions (token_hash, admin, csrf, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token_hash, admin, csrf, now_ms, expires_at_ms],
            )?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str, now_ms: i64) -> Result<Option<AdminSession>, QueueError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT s.admin, a.role, s.csrf, s.expires_at FROM bridge_admin_sessions s
                 JOIN bridge_admins a ON a.name = s.admin WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                params![token_hash, now_ms],
                |r| Ok(AdminSession { admin: r.get(0)?, role: r.get(1)?, csrf: r.get(2)?, expires_at_ms: r.get(3)? }),
            )
            .optional()?)
    }

    fn close_session(&self, token_hash: &str) -> Result<(), QueueError> {
        self.write(|tx| {
            tx.execute("DELETE FROM bridge_admin_sessions WHERE token_hash = ?1", [token_hash])?;
            Ok(())
        })
    }
}
