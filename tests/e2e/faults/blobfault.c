/* LD_PRELOAD shim for tests/e2e/test_server_faults.sh: makes the file system under one
 * directory fail like a full disk (ENOSPC on writes, creates and renames) or a read-only
 * mount (EROFS on opens for writing, mkdir, rename, unlink, truncate), switched at run time
 * by the content of a control file, so one server process lives through fault and recovery.
 * (The tests run as root, for whom chmod does not block writes; this works without mount
 * privileges.)
 *   RB_FAULT_DIR=/abs/dir   the directory (prefix) that fails
 *   RB_FAULT_CTL=/abs/file  "ENOSPC" or "EROFS" in it switches the fault on; absent/empty off
 * Reads are never affected. Only the entry points the server reaches through the PLT are
 * wrapped (glibc's internal calls from fwrite etc. are not interposable, so fwrite/fputs
 * are wrapped themselves). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int fault_mode(void) { /* 0 off, else the errno to fail with */
  const char* ctl = getenv("RB_FAULT_CTL");
  if (!ctl) return 0;
  int fd = (int)syscall(SYS_openat, AT_FDCWD, ctl, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[16] = {0};
  long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
  syscall(SYS_close, fd);
  if (n <= 0) return 0;
  if (strncmp(buf, "ENOSPC", 6) == 0) return ENOSPC;
  if (strncmp(buf, "EROFS", 5) == 0) return EROFS;
  return 0;
}

static int under_dir(const char* path) {
  const char* dir = getenv("RB_FAULT_DIR");
  if (!dir || !path) return 0;
  char abs[4096];
  if (path[0] != '/') {
    if (!getcwd(abs, sizeof abs)) return 0;
    strncat(abs, "/", sizeof abs - strlen(abs) - 1);
    strncat(abs, path, sizeof abs - strlen(abs) - 1);
    path = abs;
  }
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0);
}

static int fd_under_dir(int fd) {
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = 0;
  return under_dir(target);
}

/* Fails a path operation: any mode for creating/changing, returns the errno or 0. */
static int path_fault(const char* path) {
  if (!under_dir(path)) return 0;
  return fault_mode();
}

#define REAL(name) static __typeof__(name)* real_##name; if (!real_##name) real_##name = (__typeof__(name)*)dlsym(RTLD_NEXT, #name)

static int writes(int flags) { return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) != 0; }

int open(const char* path, int flags, ...) {
  REAL(open);
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
  int e = writes(flags) ? path_fault(path) : 0;
  if (e) { errno = e; return -1; }
  return real_open(path, flags, mode);
}
int open64(const char* path, int flags, ...) {
  REAL(open64);
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
  int e = writes(flags) ? path_fault(path) : 0;
  if (e) { errno = e; return -1; }
  return real_open64(path, flags, mode);
}
int openat(int dirfd, const char* path, int flags, ...) {
  REAL(openat);
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
  int e = (writes(flags) && (dirfd == AT_FDCWD || path[0] == '/')) ? path_fault(path) : 0;
  if (e) { errno = e; return -1; }
  return real_openat(dirfd, path, flags, mode);
}
static int fopen_writes(const char* m) { return strchr(m, 'w') || strchr(m, 'a') || strchr(m, '+'); }
FILE* fopen(const char* path, const char* m) {
  REAL(fopen);
  int e = fopen_writes(m) ? path_fault(path) : 0;
  if (e) { errno = e; return NULL; }
  return real_fopen(path, m);
}
FILE* fopen64(const char* path, const char* m) {
  REAL(fopen64);
  int e = fopen_writes(m) ? path_fault(path) : 0;
  if (e) { errno = e; return NULL; }
  return real_fopen64(path, m);
}
static int fd_fault(int fd) { return fd_under_dir(fd) ? fault_mode() : 0; }
ssize_t write(int fd, const void* b, size_t n) {
  REAL(write);
  int e = fd_fault(fd);
  if (e) { errno = e; return -1; }
  return real_write(fd, b, n);
}
ssize_t writev(int fd, const struct iovec* v, int n) {
  REAL(writev);
  int e = fd_fault(fd);
  if (e) { errno = e; return -1; }
  return real_writev(fd, v, n);
}
ssize_t pwrite(int fd, const void* b, size_t n, off_t o) {
  REAL(pwrite);
  int e = fd_fault(fd);
  if (e) { errno = e; return -1; }
  return real_pwrite(fd, b, n, o);
}
ssize_t pwrite64(int fd, const void* b, size_t n, off_t o) {
  REAL(pwrite64);
  int e = fd_fault(fd);
  if (e) { errno = e; return -1; }
  return real_pwrite64(fd, b, n, o);
}
size_t fwrite(const void* p, size_t s, size_t n, FILE* f) {
  REAL(fwrite);
  int e = fd_fault(fileno(f));
  if (e) { errno = e; return 0; }
  return real_fwrite(p, s, n, f);
}
int fdatasync(int fd) {
  REAL(fdatasync);
  int e = fd_fault(fd);
  if (e) { errno = e; return -1; }
  return real_fdatasync(fd);
}
int fsync(int fd) {
  REAL(fsync);
  int e = fd_fault(fd);
  if (e == EROFS) e = 0; /* fsync of a file opened for reading is fine on a read-only fs */
  if (e) { errno = e; return -1; }
  return real_fsync(fd);
}
int mkdir(const char* path, mode_t m) {
  REAL(mkdir);
  int e = path_fault(path);
  if (e) { struct stat st; if (stat(path, &st) == 0) e = EEXIST; errno = e; return -1; }
  return real_mkdir(path, m);
}
int rename(const char* a, const char* b) {
  REAL(rename);
  int e = path_fault(a) ? path_fault(a) : path_fault(b);
  if (e) { errno = e; return -1; }
  return real_rename(a, b);
}
int unlink(const char* path) {
  REAL(unlink);
  int e = path_fault(path);
  if (e == ENOSPC) e = 0; /* deleting frees space */
  if (e) { errno = e; return -1; }
  return real_unlink(path);
}
int truncate(const char* path, off_t len) {
  REAL(truncate);
  int e = path_fault(path);
  if (e == ENOSPC) e = 0;
  if (e) { errno = e; return -1; }
  return real_truncate(path, len);
}
