/* LD_PRELOAD shim for tests/e2e/test_server_accept.sh: makes chosen accept()/accept4() calls
 * of the process fail as they do on a loaded machine, after taking the connection off the
 * queue (the client's connection is then reset, as the kernel would do):
 *   RB_FAULT_ACCEPT="3:ENOMEM,4:ENOBUFS,6:ENFILE,7:ECONNABORTED"   call number:errno, 1-based
 * cpp-httplib 0.11's listen loop closed the listening socket for good on any such error (all
 * but EMFILE, EINTR and EAGAIN): the server lived on, refusing every connection (issue 15,
 * item 11). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_int calls;

static int planned_errno(int call) {
  const char* spec = getenv("RB_FAULT_ACCEPT");
  if (!spec) return 0;
  static const struct { const char* name; int value; } names[] = {
      {"ENOMEM", ENOMEM}, {"ENOBUFS", ENOBUFS}, {"ENFILE", ENFILE}, {"ECONNABORTED", ECONNABORTED}, {"EPROTO", EPROTO}};
  for (const char* p = spec; *p;) {
    const int n = atoi(p);
    const char* colon = strchr(p, ':');
    if (!colon) return 0;
    const char* end = strchr(colon, ',');
    const size_t len = end ? (size_t)(end - colon - 1) : strlen(colon + 1);
    if (n == call)
      for (size_t k = 0; k < sizeof names / sizeof names[0]; ++k)
        if (strlen(names[k].name) == len && strncmp(names[k].name, colon + 1, len) == 0) return names[k].value;
    if (!end) break;
    p = end + 1;
  }
  return 0;
}

static int fail_or_pass(int fd, int call) {
  const int err = planned_errno(call);
  if (fd < 0 || err == 0) return fd;
  close(fd);
  errno = err;
  return -1;
}

int accept(int s, struct sockaddr* addr, socklen_t* len) {
  static int (*real)(int, struct sockaddr*, socklen_t*);
  if (!real) real = (int (*)(int, struct sockaddr*, socklen_t*))dlsym(RTLD_NEXT, "accept");
  const int call = atomic_fetch_add(&calls, 1) + 1;
  return fail_or_pass(real(s, addr, len), call);
}

int accept4(int s, struct sockaddr* addr, socklen_t* len, int flags) {
  static int (*real)(int, struct sockaddr*, socklen_t*, int);
  if (!real) real = (int (*)(int, struct sockaddr*, socklen_t*, int))dlsym(RTLD_NEXT, "accept4");
  const int call = atomic_fetch_add(&calls, 1) + 1;
  return fail_or_pass(real(s, addr, len, flags), call);
}
