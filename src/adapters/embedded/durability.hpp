#pragma once
// How far a write must get before the embedded engines call it done.

namespace parley::embedded {

enum class Durability {
  // Done only after the write is synced to disk (the log's segment file, the
  // RocksDB write-ahead log of the other engines): survives a
  // power loss.
  fsync,
  // Done once the write reached the operating system: survives a crash of the
  // process, not of the machine.
  os,
};

}  // namespace parley::embedded
