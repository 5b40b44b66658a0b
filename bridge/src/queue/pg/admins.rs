//! [`Admins`] on PostgreSQL: the same statements as SQLite's.

use postgres::Row;

use super::PgQueue;
use crate::queue::{AdminAccount, AdminSession, Admins, QueueError};

const ACCOUNT: &str = "SELECT name, role, secret_hash, failed_logins, locked_until, created_at FROM bridge_admins";

fn account(r: &Row) -> AdminAccount {
    AdminAccount {
        name: r.get(0),
        role: r.get(1),
        secret_hash: r.get(2),
        failed_logins: u32::try_from(r.get::<_, i32>(3)).unwrap_or(0),
        locked_until_ms: r.get(4),
        created_at_ms: r.get(5),
    }
}

impl Admins for PgQueue {
    fn add_admin(&self, name: &str, role: &str, secret_hash: &str, now_ms: i64) -> Result<bool, QueueError> {
        let inserted = self.pg.conn()?.execute(
            "INSERT INTO bridge_admins (name, role, secret_hash, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&name, &role, &secret_hash, &now_ms],
        )?;
        Ok(inserted == 1)
    }

    fn reset_admin(&self, name: &str, secret_hash: &str) -> Result<bool, QueueError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE bridge_admins SET secret_hash = $2, failed_logins = 0, locked_until = NULL WHERE name = $1",
                &[&name, &secret_hash],
            )?;
            tx.execute("DELETE FROM bridge_admin_sessions WHERE admin = $1", &[&name])?;
            Ok(changed == 1)
        })
    }

    fn remove_admin(&self, name: &str) -> Result<bool, QueueError> {
        self.write(|tx| {
            tx.execute("DELETE FROM bridge_admin_sessions WHERE admin = $1", &[&name])?;
            Ok(tx.execute("DELETE FROM bridge_admins WHERE name = $1", &[&name])? == 1)
        })
    }

    fn admins(&self) -> Result<Vec<AdminAccount>, QueueError> {
        Ok(self.pg.conn()?.query(&format!("{ACCOUNT} ORDER BY name"), &[])?.iter().map(account).collect())
    }

    fn admin(&self, name: &str) -> Result<Option<AdminAccount>, QueueError> {
        Ok(self.pg.conn()?.query_opt(&format!("{ACCOUNT} WHERE name = $1"), &[&name])?.as_ref().map(account))
    }

    fn login_failed(&self, name: &str, lock_after: u32, lock_until_ms: i64) -> Result<u32, QueueError> {
        let lock_after = i32::try_from(lock_after).unwrap_or(i32::MAX);
        let row = self.pg.conn()?.query_opt(
            "UPDATE bridge_admins SET failed_logins = failed_logins + 1,
                 locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
             WHERE name = $1 RETURNING failed_logins",
            &[&name, &lock_after, &lock_until_ms],
        )?;
        Ok(row.map_or(0, |r| u32::try_from(r.get::<_, i32>(0)).unwrap_or(0)))
    }

    fn login_succeeded(&self, name: &str) -> Result<(), QueueError> {
        self.pg
            .conn()?
            .execute("UPDATE bridge_admins SET failed_logins = 0, locked_until = NULL WHERE name = $1", &[&name])?;
        Ok(())
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
            tx.execute("DELETE FROM bridge_admin_sessions WHERE expires_at <= $1", &[&now_ms])?;
            tx.execute(
                "INSERT INTO bridge_admin_sessions (token_hash, admin, csrf, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&token_hash, &admin, &csrf, &now_ms, &expires_at_ms],
            )?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str, now_ms: i64) -> Result<Option<AdminSession>, QueueError> {
        let row = self.pg.conn()?.query_opt(
            "SELECT s.admin, a.role, s.csrf, s.expires_at FROM bridge_admin_sessions s
             JOIN bridge_admins a ON a.name = s.admin WHERE s.token_hash = $1 AND s.expires_at > $2",
            &[&token_hash, &now_ms],
        )?;
        Ok(row.map(|r| AdminSession { admin: r.get(0), role: r.get(1), csrf: r.get(2), expires_at_ms: r.get(3) }))
    }

    fn close_session(&self, token_hash: &str) -> Result<(), QueueError> {
        self.pg.conn()?.execute("DELETE FROM bridge_admin_sessions WHERE token_hash = $1", &[&token_hash])?;
        Ok(())
    }
}
