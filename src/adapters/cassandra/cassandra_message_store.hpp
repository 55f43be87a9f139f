#pragma once
// CassandraMessageStore: the MessageStore on Apache Cassandra, one table per
// access pattern (all in one keyspace, created by the migrations at open):
//
//   conversation_history ((conversation, bucket), id DESC)  1:1 and group history
//   channel_messages     ((conversation, bucket), id DESC)  channel history ("c:…")
//   conversation_buckets ((conversation), bucket DESC)      the buckets a conversation has
//   user_inbox           ((user_id, seq_bucket), seq)        each user's inbox
//   inbox_ids            ((user_id, seq_bucket), id) → seq   replay check (with its entry: one mutation)
//   inbox_index          ((user_id, id)) → seq               the same, written before migration 2; read only
//   inbox_heads          ((user_id)) → head
//   device_cursors       ((user_id), device) → seq
//   user_conversations   ((user_id), conversation) → last_message
//   read_positions       ((user_id), conversation) → message
//
// Partitions are bounded: history by time bucket (the message id's top
// bits, about 18.6 hours of Snowflake time each), the inbox by blocks of
// 65,536 seqs. Every write is an idempotent INSERT, so the client retries
// them freely. The values that may only grow (inbox heads, cursors, the
// newest message per conversation, read positions) are written with the
// value itself as the cell's write timestamp (USING TIMESTAMP): Cassandra
// keeps the cell with the highest timestamp, so concurrent and replayed
// writes resolve to the maximum with no read-before-write and no
// lightweight transaction. Those tables must never be written without it.
//
// Rows go out as UNLOGGED batches grouped by the node that owns them
// (CqlSession::write_by_node: each partition one mutation, no batchlog):
// every row is idempotent and every caller retries its whole write until it
// succeeds, so rows a failure left behind are written again. An inbox
// write is two rounds, the entries with their index rows (one partition a
// user and seq bucket), then each user's head with its conversation index,
// so a crash part-way leaves rows above a head, never a head above a
// missing row (the next entry would take a used seq; see
// services/inbox_owner.hpp). Batches stay under 40 KiB when
// they can, below Cassandra's default batch_size_fail_threshold (50 KiB); a
// --max-body over about 20 KiB needs that threshold raised. A keyspace made
// by an older version also holds sent_messages, a dedupe table nothing
// reads or writes any more (docs/OPERATIONS.md).
//
// Durability is the cluster's: a write returns once the consistency level's
// replicas acknowledged it, and callers take that as durable. With one
// replica that is true only when the node syncs its commitlog before
// acknowledging (`commitlog_sync: batch` or `group`); in `periodic` mode a
// kill -9 of the node loses the last acknowledged writes (issue 7,
// docs/OPERATIONS.md).

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "adapters/cassandra/cql_session.hpp"
#include "ports/message_store.hpp"

namespace parley::cassandra {

struct CassandraStoreOptions {
  CqlOptions cql;
  std::string keyspace = "parley";  // [A-Za-z0-9_], at most 48 characters
  // The keyspace's replication, as CQL writes it; used only when the
  // migrations create the keyspace.
  std::string replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
};

class CassandraMessageStore final : public ports::MessageStore {
  struct Private {
    explicit Private() = default;
  };

 public:
  // Connects, then creates or upgrades the schema (recorded in
  // schema_migrations). Fails when Cassandra cannot be reached.
  [[nodiscard]] static Result<std::unique_ptr<CassandraMessageStore>> open(const CassandraStoreOptions& options);

  // Use open(); public only for std::make_unique.
  CassandraMessageStore(Private, std::unique_ptr<CqlSession> session, std::string keyspace, bool legacy_index);

  [[nodiscard]] Result<MessageId> last_message_id(std::string_view conversation) override;
  [[nodiscard]] Result<void> put_messages(std::span<const Message> messages) override;
  [[nodiscard]] Result<std::vector<Message>> history(std::string_view conversation, MessageId before,
                                                     int limit) override;

  [[nodiscard]] Result<Seq> inbox_head(UserId user) override;
  [[nodiscard]] Result<std::optional<Seq>> inbox_seq_of(UserId user, MessageId message) override;
  // All at once, a window of requests in flight (CqlSession::execute_each):
  // one round for users with fewer than 65,536 entries (the .cpp says more).
  [[nodiscard]] Result<std::vector<std::optional<Seq>>> inbox_seqs_of(std::span<const InboxKey> keys) override;
  [[nodiscard]] Result<std::vector<Seq>> inbox_heads(std::span<const UserId> users) override;
  [[nodiscard]] Result<void> put_inbox(std::span<const InboxWrite> writes) override;
  [[nodiscard]] Result<std::vector<InboxEntry>> inbox(UserId user, Seq after, int limit) override;

  [[nodiscard]] Result<Seq> cursor(UserId user, std::string_view device) override;
  [[nodiscard]] Result<Seq> advance_cursor(UserId user, std::string_view device, Seq seq) override;
  // A delete at the timestamp of the cursor it read (cursor writes are
  // timestamped with their seq, so the highest wins): later advances past
  // it still land, and a delete wins a tie.
  [[nodiscard]] Result<void> delete_cursor(UserId user, std::string_view device) override;

  [[nodiscard]] Result<std::vector<ConversationSummary>> conversations_of(UserId user) override;
  [[nodiscard]] Result<std::vector<std::vector<ConversationSummary>>> conversations_of_each(
      std::span<const UserId> users) override;
  [[nodiscard]] Result<MessageId> read_position(UserId user, std::string_view conversation) override;
  [[nodiscard]] Result<MessageId> advance_read_position(UserId user, std::string_view conversation,
                                                        MessageId message) override;
  [[nodiscard]] Result<std::size_t> count_unread(std::string_view conversation, MessageId after, UserId reader,
                                                 std::size_t cap) override;

  // Tombstones are a null body, written at the highest timestamp (a replay
  // of the message cannot bring the body back).
  [[nodiscard]] Result<std::vector<MessageId>> erase_sent(std::string_view conversation, UserId sender,
                                                          std::span<const UserId> inbox_users) override;
  // Partition deletes at the highest timestamp: a late write for a deleted
  // user stays hidden.
  [[nodiscard]] Result<void> delete_inbox(UserId user) override;

  [[nodiscard]] Result<void> flush() override;

  // Readiness: reads system.local from a node, each attempt waiting
  // `timeout` at most; unavailable when no node answers.
  [[nodiscard]] Result<void> probe(std::chrono::milliseconds timeout);

  // The session, for tests and operations tools.
  [[nodiscard]] CqlSession& session() noexcept { return *session_; }

 private:
  // A prepared statement of this store: `cql` with {ks} replaced by the keyspace.
  [[nodiscard]] Result<Statement> statement(const char* cql, std::vector<CqlValue> values);
  [[nodiscard]] Result<Rows> run(const char* cql, std::vector<CqlValue> values, const std::string& paging_state = {},
                                 int page_size = 0);
  [[nodiscard]] Result<std::vector<std::int64_t>> buckets(std::string_view conversation, std::int64_t bound,
                                                          bool descending);
  [[nodiscard]] Result<std::int64_t> read_single_bigint(const char* cql, std::vector<CqlValue> values);
  // Whether this process has stored the conversation_buckets row already.
  [[nodiscard]] bool bucket_stored(std::string_view conversation, std::int64_t bucket);

  std::unique_ptr<CqlSession> session_;
  std::string keyspace_;
  // Whether inbox_index held rows at open: entries placed before migration
  // 2, which replay checks must look up there.
  bool legacy_index_;
  // (conversation, bucket) rows of conversation_buckets known to be
  // stored: put_messages writes each once per process, not per message.
  // Bounded: cleared whole when it grows past a limit.
  std::mutex buckets_mu_;
  std::set<std::pair<std::string, std::int64_t>> stored_buckets_;
};

}  // namespace parley::cassandra
