// tcpi_bytes_received is in the kernel's struct tcp_info (linux/tcp.h, Linux >= 4.1), not in
// glibc's (netinet/tcp.h, which httplib.h includes): this file includes only the former.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace rb::server {

int64_t tcp_bytes_received(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
      len < offsetof(tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
    return -1;
  return static_cast<int64_t>(ti.tcpi_bytes_received);
}

}  // namespace rb::server
