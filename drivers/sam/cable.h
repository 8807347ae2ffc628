// Named cables: the boards that two attaches share (cable=NAME). The first attach makes the
// board and takes one end, the second takes the other, a third is refused. An end is given back
// when its driver detaches; the board goes with the last share.
#pragma once

#include <memory>
#include <string>

#include "hardware.h"
#include "options.h"

namespace pktd_sam {

struct CableEnd {
  std::shared_ptr<Board> board;
  int port = -1;
};

// EBUSY when both ends are taken.
int take_cable_end(const std::string& name, const Options& opt, size_t frame_max, CableEnd& out);
void give_back_cable_end(const std::shared_ptr<Board>& board, int port);

}  // namespace pktd_sam
