//! A counting global allocator: live heap bytes, for memory-per-guest figures. It counts the
//! bytes asked for, and also what glibc's malloc takes for them (each chunk carries an 8-byte
//! header, is rounded up to 16 bytes and is at least 32), so figures can be stated both ways.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static CHUNKS: AtomicIsize = AtomicIsize::new(0);
static OFF: AtomicBool = AtomicBool::new(false);

/// Stops counting for the rest of the process, so that CPU figures do not include the
/// counters' atomic updates (the counts are then meaningless).
pub fn stop_counting() {
    OFF.store(true, Ordering::Relaxed);
}

fn counting() -> bool {
    !OFF.load(Ordering::Relaxed)
}

/// What glibc's malloc uses for an allocation of `size` bytes (large ones are mapped whole
/// pages, but the rounding there is small next to their size).
fn chunk(size: usize) -> isize {
    (size.saturating_add(8 + 15) & !15).max(32) as isize
}

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && counting() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            CHUNKS.fetch_add(chunk(layout.size()), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if !counting() {
            return;
        }
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        CHUNKS.fetch_sub(chunk(layout.size()), Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() && counting() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            CHUNKS.fetch_add(chunk(layout.size()), Ordering::Relaxed);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && counting() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
            CHUNKS.fetch_add(chunk(new_size) - chunk(layout.size()), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes currently allocated on the heap by this process.
pub fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Bytes glibc's malloc uses for the live allocations (headers and rounding included).
pub fn live_chunk_bytes() -> isize {
    CHUNKS.load(Ordering::Relaxed)
}
