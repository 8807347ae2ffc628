#include "options.h"

#include <linux/if_packet.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "option_parse.h"
#include "packet_ring.h"

namespace pktd_afpacket {
namespace {

// packet_mmap.rst, "PACKET_MMAP setting constraints": tp_block_size must be a multiple of
// PAGE_SIZE.
uint32_t page_size() {
  long n = ::sysconf(_SC_PAGESIZE);
  return n > 0 ? static_cast<uint32_t>(n) : 4096u;
}

bool parse_dev(const pktd_host& host, const char* value, Options& out) {
  size_t len = std::strlen(value);
  if (len == 0 || len >= IFNAMSIZ) {
    host.log(PKTD_LOG_ERROR, "afpacket: dev= needs a Linux interface name of 1 to %d characters",
             IFNAMSIZ - 1);
    return false;
  }
  out.dev = value;
  return true;
}

bool parse_ranged(const pktd_host& host, const char* key, const char* value, uint32_t min,
                  uint32_t max, uint32_t& out) {
  return pktd_kit::parse_u32(host, "afpacket", key, value, min, max, out);
}

// Block size: the largest contiguous block the kernel allocates easily is bounded
// (packet_mmap.rst, "Block size limit": PAGE_SIZE << MAX_ORDER); 4 MiB is well inside it.
// A block also bounds the longest frame the ring can hold (TPACKET_V3 packs frames into blocks),
// which attach checks against the device's MTU.
bool parse_block_size(const pktd_host& host, const char* value, Options& out) {
  uint32_t page = page_size();
  uint32_t n = 0;
  if (!parse_ranged(host, "blocksize", value, page, kMaxBlockSize, n)) return false;
  if (n % page != 0) {
    host.log(PKTD_LOG_ERROR, "afpacket: blocksize=%s: must be a multiple of the page size (%u)",
             value, page);
    return false;
  }
  out.block_size = n;
  return true;
}

bool parse_one(const pktd_host& host, const char* key, const char* value, Options& out) {
  if (std::strcmp(key, "dev") == 0) return parse_dev(host, value, out);
  if (std::strcmp(key, "blocksize") == 0) return parse_block_size(host, value, out);
  if (std::strcmp(key, "blocks") == 0)
    return parse_ranged(host, key, value, kMinBlockCount, kMaxBlockCount, out.block_count);
  if (std::strcmp(key, "framesize") == 0)
    return parse_ranged(host, key, value, min_frame_size(), kMaxBlockSize, out.frame_size);
  if (std::strcmp(key, "retire_ms") == 0)
    return parse_ranged(host, key, value, 1, kMaxRetireMs, out.retire_ms);
  if (std::strcmp(key, "rxbatch") == 0)
    return parse_ranged(host, key, value, 1, kMaxRxBatch, out.rxbatch);
  host.log(PKTD_LOG_ERROR,
           "afpacket: unknown option '%s' (known: dev, blocksize, blocks, "
           "framesize, retire_ms, rxbatch)",
           key);
  return false;
}

// What depends on more than one option, checked once all are read (their order is free).
bool check_combination(const pktd_host& host, const Options& opt) {
  if (opt.dev.empty()) {
    host.log(PKTD_LOG_ERROR, "afpacket: dev=IFNAME is required (the Linux interface to attach to)");
    return false;
  }
  // packet_set_ring refuses a frame size that is not a multiple of TPACKET_ALIGNMENT or that
  // leaves a block with no whole frame (frames_per_block == 0).
  if (opt.frame_size % TPACKET_ALIGNMENT != 0 || opt.frame_size > opt.block_size) {
    host.log(PKTD_LOG_ERROR,
             "afpacket: framesize=%u: must be a multiple of %d and at most "
             "blocksize (%u)",
             opt.frame_size, TPACKET_ALIGNMENT, opt.block_size);
    return false;
  }
  // The ring is unswappable kernel memory (packet_mmap.rst); a typo should not take a GiB.
  if (uint64_t{opt.block_size} * opt.block_count > kMaxRingBytes) {
    host.log(PKTD_LOG_ERROR, "afpacket: blocksize x blocks = %llu bytes: at most %llu",
             static_cast<unsigned long long>(uint64_t{opt.block_size} * opt.block_count),
             static_cast<unsigned long long>(kMaxRingBytes));
    return false;
  }
  return true;
}

}  // namespace

uint32_t min_frame_size() {
  // TPACKET3_HDRLEN rounded up to TPACKET_ALIGNMENT.
  return static_cast<uint32_t>(
      tpacket_align(tpacket_align(sizeof(tpacket3_hdr)) + sizeof(sockaddr_ll)));
}

int parse_options(const pktd_host& host, const char* text, Options& out) {
  if (int err = pktd_kit::for_each_option(
          text, [&](const char* key, const char* value) { return parse_one(host, key, value, out); });
      err != 0)
    return err;
  return check_combination(host, out) ? 0 : EINVAL;
}

}  // namespace pktd_afpacket
