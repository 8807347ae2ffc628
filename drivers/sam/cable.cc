#include "cable.h"

#include <array>
#include <cerrno>
#include <map>
#include <mutex>

namespace pktd_sam {
namespace {

struct Cable {
  std::weak_ptr<Board> board;
  std::array<bool, 2> taken{};
};

// One per process: the shared object is loaded once however many stacks attach it.
std::mutex g_mutex;
std::map<std::string, Cable>& cables() {
  static std::map<std::string, Cable> all;
  return all;
}

}  // namespace

int take_cable_end(const std::string& name, const Options& opt, size_t frame_max, CableEnd& out) {
  std::lock_guard lock(g_mutex);
  Cable& cable = cables()[name];
  std::shared_ptr<Board> board = cable.board.lock();
  if (!board) {
    // The ring sizes are the first end's; each port's rings are its own.
    board = std::make_shared<Board>(2, opt.txd, opt.rxd, frame_max, opt.flow_control);
    board->set_present(0, false);
    board->set_present(1, false);
    cable = Cable{board, {}};
  }
  int port = !cable.taken[0] ? 0 : (!cable.taken[1] ? 1 : -1);
  if (port < 0) return EBUSY;
  cable.taken[static_cast<size_t>(port)] = true;
  out = CableEnd{board, port};
  return 0;
}

void give_back_cable_end(const std::shared_ptr<Board>& board, int port) {
  std::lock_guard lock(g_mutex);
  for (auto it = cables().begin(); it != cables().end();) {
    std::shared_ptr<Board> b = it->second.board.lock();
    if (b == board) it->second.taken[static_cast<size_t>(port)] = false;
    // Forget cables whose board has gone, and this one once neither end is taken.
    bool unused = !b || (b == board && !it->second.taken[0] && !it->second.taken[1]);
    it = unused ? cables().erase(it) : std::next(it);
  }
}

}  // namespace pktd_sam
