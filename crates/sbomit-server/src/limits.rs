//! What one client can take from the service: a rate limit on requests without a valid token
//! (a token bucket per client address) and the cap on open event streams (in all and per
//! client); `crate::guard` applies them with the whole-request timeout. The header-read
//! timeout is the connection's (see `serve`). `docs/security.md` lists every limit.
//!
//! A client address is the TCP peer's: behind a reverse proxy every client is the proxy, so
//! the per-client limits are then the proxy's to enforce (the totals still hold).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::problem::ApiError;

/// Client addresses the rate limiter remembers; when full, the ones whose buckets have
/// refilled (the same as forgotten) are dropped first.
const MAX_CLIENTS: usize = 65_536;

/// The path of the event streams, exempt from the request timeout.
pub const EVENTS_PATH: &str = "/v1/events";

/// A client address as the limits count it: an IPv6 client is its /64 (one host usually has
/// a whole /64 to pick addresses from).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per client: `rate` requests a second sustained, `burst` at once.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        RateLimiter {
            rate: f64::from(rate_per_sec),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `client`'s bucket at `now`; `Err(wait)` when it is empty, with
    /// the time until it holds one again.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&client) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| refill(b, now, rate, burst) < burst);
            if buckets.len() >= MAX_CLIENTS {
                // Every remembered client is mid-burst: start over rather than grow.
                buckets.clear();
            }
        }
        let b = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        b.tokens = refill(b, now, self.rate, self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.rate))
        }
    }
}

fn refill(b: &Bucket, now: Instant, rate: f64, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
    (b.tokens + elapsed * rate).min(burst)
}

/// The event streams open, in all and per client.
pub struct StreamSlots {
    max: usize,
    max_per_client: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open stream's place; dropping it (when the response body is dropped: the client went
/// away or the stream ended) frees it.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    client: Option<IpAddr>,
}

impl StreamSlots {
    pub fn new(max: usize, max_per_client: usize) -> Arc<Self> {
        Arc::new(StreamSlots {
            max,
            max_per_client,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A slot for a new stream of `client`, or the refusal: 503 when the service holds its
    /// maximum, 429 when the client holds its own.
    pub fn acquire(self: &Arc<Self>, client: Option<IpAddr>) -> Result<StreamSlot, ApiError> {
        let mut g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per_client) = &mut *g;
        if *total >= self.max {
            return Err(ApiError {
                retry_after: Some(5),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                    format!(
                        "the service has {} event streams open, its maximum; try again later",
                        self.max
                    ),
                )
            });
        }
        if let Some(c) = client {
            let n = per_client.entry(c).or_insert(0);
            if *n >= self.max_per_client {
                return Err(ApiError {
                    retry_after: Some(5),
                    ..ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "Too Many Requests",
                        format!(
                            "this client has {} event streams open, the most one client may",
                            self.max_per_client
                        ),
                    )
                });
            }
            *n += 1;
        }
        *total += 1;
        Ok(StreamSlot {
            slots: Arc::clone(self),
            client,
        })
    }

    /// Streams open now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).0
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut g = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per_client) = &mut *g;
        *total = total.saturating_sub(1);
        if let Some(c) = self.client {
            if let Some(n) = per_client.get_mut(&c) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    per_client.remove(&c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn a_bucket_allows_its_burst_then_the_rate() {
        let limiter = RateLimiter::new(2, 3);
        let client = ip("192.0.2.1");
        let other = ip("192.0.2.2");
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(client, t0), Ok(()));
        }
        let wait = limiter.check(client, t0).expect_err("over the burst");
        assert_eq!(wait, Duration::from_millis(500));
        // Another client has its own bucket.
        assert_eq!(limiter.check(other, t0), Ok(()));
        // Half a second later, one more request at 2 a second.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.check(client, t1), Ok(()));
        assert!(limiter.check(client, t1).is_err());
        // Refilled, but never above the burst.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(limiter.check(client, t2), Ok(()));
        }
        assert!(limiter.check(client, t2).is_err());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a = ip("2001:db8:1:2::1");
        let b = ip("2001:db8:1:2:ffff::9");
        let c = ip("2001:db8:1:3::1");
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped = ip("::ffff:192.0.2.1");
        assert_eq!(client_key(mapped), ip("192.0.2.1"));
    }

    #[test]
    fn stream_slots_cap_the_total_and_each_client_and_free_on_drop() {
        let slots = StreamSlots::new(3, 2);
        let a = Some(IpAddr::V4([192, 0, 2, 1].into()));
        let b = Some(IpAddr::V4([192, 0, 2, 2].into()));
        let a1 = slots.acquire(a).ok();
        let _a2 = slots.acquire(a).ok();
        assert_eq!(slots.acquire(a).err().map(|e| e.status.as_u16()), Some(429));
        let _b1 = slots.acquire(b).ok();
        assert_eq!(slots.acquire(b).err().map(|e| e.status.as_u16()), Some(503));
        assert_eq!(slots.open(), 3);
        drop(a1);
        assert_eq!(slots.open(), 2);
        assert!(slots.acquire(a).is_ok());
    }
}
