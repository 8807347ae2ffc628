// The one place the socket service reaches the stack's TCP layer (inet/tcp.cc wires IP protocol
// 6 into it).
#include "sockets/service_internal.h"

namespace pktd::sockets {

tcp::TcpLayer& SocketService::Impl::tcp() { return stack_->tcp(); }

}  // namespace pktd::sockets
