//! Finds the real libc functions behind our hooks without `dlsym`.
//!
//! `dlsym` takes the loader's lock and allocates on failure, so it is unsafe
//! in a hook that a signal handler may re-enter, and it is not available
//! before our constructor has run in a useful way. Instead we walk the
//! loader's public link-map list (`r_debug.r_map`, reached through the
//! executable's DT_DEBUG entry; a stable ABI since the 1990s, shared by
//! glibc and musl) from our own entry onwards and look the name up in each object's
//! dynamic symbol table through its GNU (or SysV) hash table: the same search
//! `dlsym(RTLD_NEXT, name)` does, with no lock, no allocation and no error
//! state. Symbol versions are honoured: by default only a symbol's default
//! version is taken (as `dlsym` does); a named version (e.g. the compat-only
//! `sigvec@GLIBC_2.2.5`) is matched by name, as `dlvsym` does.

use core::ffi::c_char;
use core::ptr;

#[repr(C)]
struct LinkMap {
    l_addr: usize,
    l_name: *const c_char,
    l_ld: *const Dyn,
    l_next: *const LinkMap,
    l_prev: *const LinkMap,
}

#[repr(C)]
struct RDebug {
    r_version: i32,
    r_map: *const LinkMap,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Dyn {
    d_tag: i64,
    d_val: usize,
}

#[repr(C)]
struct Sym {
    st_name: u32,
    st_info: u8,
    st_other: u8,
    st_shndx: u16,
    st_value: usize,
    st_size: u64,
}

#[repr(C)]
struct Verdef {
    vd_version: u16,
    vd_flags: u16,
    vd_ndx: u16,
    vd_cnt: u16,
    vd_hash: u32,
    vd_aux: u32,
    vd_next: u32,
}

#[repr(C)]
struct Verdaux {
    vda_name: u32,
    vda_next: u32,
}

const DT_NULL: i64 = 0;
const DT_HASH: i64 = 4;
const DT_STRTAB: i64 = 5;
const DT_SYMTAB: i64 = 6;
const DT_GNU_HASH: i64 = 0x6fff_fef5;
const DT_VERSYM: i64 = 0x6fff_fff0;
const DT_VERDEF: i64 = 0x6fff_fffc;
const DT_VERDEFNUM: i64 = 0x6fff_fffd;

const STT_FUNC: u8 = 2;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const VERSYM_HIDDEN: u16 = 0x8000;

extern "C" {
    /// Our own dynamic section, defined by the linker for every shared object.
    static _DYNAMIC: [Dyn; 0];
}

const DT_DEBUG: i64 = 21;
const PT_PHDR: u32 = 6;
const PT_DYNAMIC: u32 = 2;
const AT_PHDR: libc::c_ulong = 3;
const AT_PHNUM: libc::c_ulong = 5;

#[repr(C)]
struct Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: usize,
    p_paddr: usize,
    p_filesz: u64,
    p_memsz: u64,
    p_align: u64,
}

/// The head of the loader's list of loaded objects, found through the
/// executable's DT_DEBUG entry, where the loader publishes its debugger
/// interface (`struct r_debug`). Both glibc's and musl's loaders fill it,
/// and both lists start with the same five fields.
///
/// Deliberately not the `_r_debug` symbol: importing it makes the shim
/// depend on glibc's `ld-linux-x86-64.so.2`, which a musl-linked program
/// cannot load, and a preload that cannot be loaded kills every program
/// that inherits it (exit 127).
fn link_map_head() -> *const LinkMap {
    // SAFETY: getauxval only reads the auxiliary vector; the program
    // headers and dynamic section it leads to are mapped for the life of
    // the process.
    unsafe {
        let phdr = libc::getauxval(AT_PHDR) as usize;
        let phnum = libc::getauxval(AT_PHNUM) as usize;
        if phdr == 0 || phnum == 0 || phnum > 256 {
            return ptr::null();
        }
        let headers = core::slice::from_raw_parts(phdr as *const Phdr, phnum);
        // The load bias: where PT_PHDR says the headers are vs where they are.
        let mut bias = 0usize;
        for h in headers {
            if h.p_type == PT_PHDR {
                bias = phdr.wrapping_sub(h.p_vaddr);
            }
        }
        for h in headers {
            if h.p_type != PT_DYNAMIC {
                continue;
            }
            let mut d = bias.wrapping_add(h.p_vaddr) as *const Dyn;
            let end = d.add((h.p_memsz as usize) / core::mem::size_of::<Dyn>());
            while d < end && (*d).d_tag != DT_NULL {
                if (*d).d_tag == DT_DEBUG {
                    let r = (*d).d_val as *const RDebug;
                    if r.is_null() {
                        return ptr::null();
                    }
                    return ptr::read_volatile(ptr::addr_of!((*r).r_map));
                }
                d = d.add(1);
            }
        }
    }
    ptr::null()
}

/// One loaded object's dynamic symbol tables.
struct Object {
    base: usize,
    strtab: *const u8,
    symtab: *const Sym,
    gnu_hash: *const u32,
    sysv_hash: *const u32,
    versym: *const u16,
    verdef: *const u8,
    verdefnum: usize,
}

impl Object {
    /// # Safety
    /// `map` must be a live entry of the loader's list.
    unsafe fn new(map: &LinkMap) -> Option<Object> {
        let base = map.l_addr;
        // glibc relocates these pointers in place on most architectures,
        // but not in read-only dynamic sections (the vDSO, some ports): a
        // value below the load address is still an offset.
        let fix = |p: usize| if p < base { p.wrapping_add(base) } else { p };
        let mut o = Object {
            base,
            strtab: ptr::null(),
            symtab: ptr::null(),
            gnu_hash: ptr::null(),
            sysv_hash: ptr::null(),
            versym: ptr::null(),
            verdef: ptr::null(),
            verdefnum: 0,
        };
        let mut d = map.l_ld;
        if d.is_null() {
            return None;
        }
        // SAFETY: the dynamic section is an array terminated by DT_NULL.
        unsafe {
            while (*d).d_tag != DT_NULL {
                let v = (*d).d_val;
                match (*d).d_tag {
                    DT_STRTAB => o.strtab = fix(v) as *const u8,
                    DT_SYMTAB => o.symtab = fix(v) as *const Sym,
                    DT_GNU_HASH => o.gnu_hash = fix(v) as *const u32,
                    DT_HASH => o.sysv_hash = fix(v) as *const u32,
                    DT_VERSYM => o.versym = fix(v) as *const u16,
                    DT_VERDEF => o.verdef = fix(v) as *const u8,
                    DT_VERDEFNUM => o.verdefnum = v,
                    _ => {}
                }
                d = d.add(1);
            }
        }
        if o.strtab.is_null() || o.symtab.is_null() {
            return None;
        }
        Some(o)
    }

    /// # Safety
    /// The tables must be the live tables of a loaded object.
    unsafe fn lookup(&self, name: &[u8], version: Option<&[u8]>) -> Option<usize> {
        // SAFETY: forwarded.
        unsafe {
            if !self.gnu_hash.is_null() {
                self.lookup_gnu(name, version)
            } else if !self.sysv_hash.is_null() {
                self.lookup_sysv(name, version)
            } else {
                None
            }
        }
    }

    unsafe fn lookup_gnu(&self, name: &[u8], version: Option<&[u8]>) -> Option<usize> {
        let h = gnu_hash(name);
        // SAFETY: layout of DT_GNU_HASH: nbuckets, symoffset, bloom_size,
        // bloom_shift, bloom[bloom_size] (words), buckets[nbuckets], chain[].
        unsafe {
            let t = self.gnu_hash;
            let nbuckets = *t;
            let symoffset = *t.add(1);
            let bloom_size = *t.add(2) as usize;
            if nbuckets == 0 {
                return None;
            }
            let bloom = t.add(4) as *const usize;
            let buckets = bloom.add(bloom_size) as *const u32;
            let chain = buckets.add(nbuckets as usize);
            let mut i = *buckets.add((h % nbuckets) as usize);
            if i == 0 || i < symoffset {
                return None;
            }
            loop {
                let ch = *chain.add((i - symoffset) as usize);
                if (ch | 1) == (h | 1) {
                    if let Some(a) = self.check(i as usize, name, version) {
                        return Some(a);
                    }
                }
                if ch & 1 != 0 {
                    return None;
                }
                i += 1;
            }
        }
    }

    unsafe fn lookup_sysv(&self, name: &[u8], version: Option<&[u8]>) -> Option<usize> {
        let h = sysv_hash(name);
        // SAFETY: layout of DT_HASH: nbucket, nchain, bucket[], chain[].
        unsafe {
            let t = self.sysv_hash;
            let nbucket = *t;
            let nchain = *t.add(1);
            if nbucket == 0 {
                return None;
            }
            let bucket = t.add(2);
            let chain = bucket.add(nbucket as usize);
            let mut i = *bucket.add((h % nbucket) as usize);
            let mut steps = 0u32;
            while i != 0 && i < nchain && steps <= nchain {
                if let Some(a) = self.check(i as usize, name, version) {
                    return Some(a);
                }
                i = *chain.add(i as usize);
                steps += 1;
            }
            None
        }
    }

    unsafe fn check(&self, idx: usize, name: &[u8], version: Option<&[u8]>) -> Option<usize> {
        // SAFETY: idx comes from this object's hash table.
        unsafe {
            let sym = &*self.symtab.add(idx);
            if sym.st_shndx == 0 || sym.st_value == 0 {
                return None;
            }
            let kind = sym.st_info & 0xf;
            let bind = sym.st_info >> 4;
            // IFUNCs would need their resolver called; none of our names is one.
            if kind != STT_FUNC || (bind != STB_GLOBAL && bind != STB_WEAK) {
                return None;
            }
            if !cstr_eq(self.strtab.add(sym.st_name as usize), name) {
                return None;
            }
            if !self.versym.is_null() {
                let v = *self.versym.add(idx);
                match version {
                    None => {
                        if v & VERSYM_HIDDEN != 0 {
                            return None;
                        }
                    }
                    Some(want) => {
                        if !self.version_is(v & !VERSYM_HIDDEN, want) {
                            return None;
                        }
                    }
                }
            } else if version.is_some() {
                return None;
            }
            Some(self.base.wrapping_add(sym.st_value))
        }
    }

    unsafe fn version_is(&self, ndx: u16, want: &[u8]) -> bool {
        if self.verdef.is_null() {
            return false;
        }
        // SAFETY: walks the DT_VERDEF chain, at most DT_VERDEFNUM entries.
        unsafe {
            let mut p = self.verdef;
            for _ in 0..self.verdefnum.max(1) {
                let vd = &*(p as *const Verdef);
                if vd.vd_ndx == ndx {
                    let aux = &*(p.add(vd.vd_aux as usize) as *const Verdaux);
                    return cstr_eq(self.strtab.add(aux.vda_name as usize), want);
                }
                if vd.vd_next == 0 {
                    break;
                }
                p = p.add(vd.vd_next as usize);
            }
        }
        false
    }
}

/// Compares a NUL-terminated string with `name`.
///
/// # Safety
/// `s` must point to a NUL-terminated string.
unsafe fn cstr_eq(s: *const u8, name: &[u8]) -> bool {
    for (i, &b) in name.iter().enumerate() {
        // SAFETY: we stop at the first mismatch, which the NUL is.
        if unsafe { *s.add(i) } != b {
            return false;
        }
    }
    // SAFETY: all of `name` matched, so the string is at least that long.
    unsafe { *s.add(name.len()) == 0 }
}

/// The GNU hash function (`dl_new_hash`).
pub fn gnu_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 5381;
    for &c in name {
        h = h.wrapping_mul(33).wrapping_add(c as u32);
    }
    h
}

/// The SysV ELF hash function.
pub fn sysv_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &c in name {
        h = (h << 4).wrapping_add(c as u32);
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

/// The address of the first definition of `name` (at `version`, or the
/// default version) in an object loaded after this library, or 0.
///
/// Lock-free and allocation-free; safe before our constructor and from a
/// signal handler.
pub fn next(name: &[u8], version: Option<&[u8]>) -> usize {
    // SAFETY: we only read the loader's list and the tables it describes;
    // objects loaded at start-up (libc among them) are never unloaded.
    unsafe {
        let me = ptr::addr_of!(_DYNAMIC) as *const Dyn;
        let head = link_map_head();
        // Search order: the objects after ours. If ours is not found (an odd
        // loader), search everything but ours.
        let mut start = head;
        let mut m = head;
        let mut guard = 0;
        while !m.is_null() && guard < 4096 {
            if (*m).l_ld == me {
                start = (*m).l_next;
                break;
            }
            m = (*m).l_next;
            guard += 1;
        }
        let mut m = start;
        let mut guard = 0;
        while !m.is_null() && guard < 4096 {
            if (*m).l_ld != me {
                if let Some(obj) = Object::new(&*m) {
                    if let Some(a) = obj.lookup(name, version) {
                        return a;
                    }
                }
            }
            m = (*m).l_next;
            guard += 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_the_reference_values() {
        // Values from the ELF gABI / glibc test vectors.
        assert_eq!(gnu_hash(b""), 0x0000_1505);
        assert_eq!(gnu_hash(b"printf"), 0x156b_2bb8);
        assert_eq!(gnu_hash(b"exit"), 0x7c96_7e3f);
        assert_eq!(sysv_hash(b""), 0);
        assert_eq!(sysv_hash(b"printf"), 0x0779_05a6);
        assert_eq!(sysv_hash(b"exit"), 0x0006_cf04);
    }

    #[test]
    fn finds_what_the_dynamic_linker_finds() {
        // In the test binary "our" object is the executable itself, so the
        // next definition of a libc name is libc's.
        assert_eq!(next(b"getpid", None), libc::getpid as *const () as usize);
        assert_eq!(
            next(b"sigaction", None),
            libc::sigaction as *const () as usize
        );
        assert_eq!(next(b"no_such_function_anywhere", None), 0);
    }

    #[test]
    fn honours_symbol_versions() {
        // sigvec exists only as a compat (hidden) symbol: dlsym cannot see
        // it, dlvsym with its version can.
        assert_eq!(next(b"sigvec", None), 0);
        #[cfg(target_arch = "x86_64")]
        assert_ne!(next(b"sigvec", Some(b"GLIBC_2.2.5")), 0);
        // posix_spawn has two versions; the default one is what a program
        // linked today gets.
        assert_eq!(
            next(b"posix_spawn", None),
            libc::posix_spawn as *const () as usize
        );
    }
}
