#include "adapters/postgres/postgres_schema.hpp"

namespace parley::postgres {

const std::vector<Migration>& schema_migrations() {
  static const std::vector<Migration> all = {
      // Accounts (PostgresDirectory).
      {1,
       "CREATE TABLE users ("
       "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
       "  username text NOT NULL UNIQUE,"
       "  password_hash text NOT NULL,"
       "  created_at bigint NOT NULL);"
       "CREATE TABLE sessions ("
       "  token_hash text PRIMARY KEY,"
       "  user_id bigint NOT NULL REFERENCES users (id),"
       "  device text NOT NULL,"
       "  created_at bigint NOT NULL);"},
      // Groups and channels (PostgresRooms). Members are not tied to users
      // by a foreign key: the port leaves user checks to its callers.
      {2,
       "CREATE TABLE rooms ("
       "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
       "  kind smallint NOT NULL,"  // 0 group, 1 channel
       "  name text NOT NULL,"
       "  owner bigint NOT NULL,"
       "  post_policy smallint NOT NULL,"  // 0 everyone, 1 admins
       "  created_at bigint NOT NULL);"
       "CREATE TABLE room_members ("
       "  room_id bigint NOT NULL REFERENCES rooms (id),"
       "  user_id bigint NOT NULL,"
       "  role smallint NOT NULL,"  // 0 member, 1 admin, 2 owner
       "  PRIMARY KEY (room_id, user_id));"
       "CREATE INDEX room_members_by_user ON room_members (user_id, room_id);"},
      // Push tokens (PostgresPushTokens): one per (user, device); a token is
      // held by one (user, device) at most.
      {3,
       "CREATE TABLE push_tokens ("
       "  user_id bigint NOT NULL,"
       "  device text NOT NULL,"
       "  platform smallint NOT NULL,"  // 0 apns, 1 fcm
       "  token text NOT NULL UNIQUE,"
       "  updated_at bigint NOT NULL,"
       "  PRIMARY KEY (user_id, device));"},
      // The social graph (PostgresSocialGraph): one row per pair, keyed by
      // its two ids in unsigned order (lo < hi), holding both sides' view;
      // a pair with nothing between them has no row. Every change locks the
      // pair's row, so both sides' operations on a pair run one at a time.
      {4,
       "CREATE TABLE social_pairs ("
       "  lo bigint NOT NULL,"
       "  hi bigint NOT NULL,"
       "  friends boolean NOT NULL DEFAULT false,"
       "  lo_asked boolean NOT NULL DEFAULT false,"   // lo's request to hi is pending
       "  hi_asked boolean NOT NULL DEFAULT false,"   // hi's request to lo is pending
       "  lo_blocks boolean NOT NULL DEFAULT false,"  // lo blocks hi
       "  hi_blocks boolean NOT NULL DEFAULT false,"  // hi blocks lo
       "  PRIMARY KEY (lo, hi));"
       "CREATE INDEX social_pairs_by_hi ON social_pairs (hi, lo);"},
      // The push ledger (PostgresPushLedger): each user's watermark (the
      // highest seq folded in), open batches (one per user and
      // conversation) and closed ones (keyed by their last seq) with the
      // devices they have reached. Previews are bytes (a cut may split a
      // UTF-8 sequence).
      {5,
       "CREATE TABLE push_watermarks ("
       "  user_id bigint PRIMARY KEY,"
       "  seq bigint NOT NULL);"
       "CREATE TABLE push_open ("
       "  user_id bigint NOT NULL,"
       "  conversation text NOT NULL,"
       "  is_group boolean NOT NULL,"
       "  entries integer NOT NULL,"
       "  first_seq bigint NOT NULL,"
       "  last_seq bigint NOT NULL,"
       "  last_message bigint NOT NULL,"
       "  last_sender bigint NOT NULL,"
       "  last_preview bytea NOT NULL,"
       "  opened_at bigint NOT NULL,"
       "  PRIMARY KEY (user_id, conversation));"
       "CREATE TABLE push_closed ("
       "  user_id bigint NOT NULL,"
       "  conversation text NOT NULL,"
       "  is_group boolean NOT NULL,"
       "  entries integer NOT NULL,"
       "  first_seq bigint NOT NULL,"
       "  last_seq bigint NOT NULL,"
       "  last_message bigint NOT NULL,"
       "  last_sender bigint NOT NULL,"
       "  last_preview bytea NOT NULL,"
       "  opened_at bigint NOT NULL,"
       "  done_devices text[] NOT NULL DEFAULT '{}',"
       "  PRIMARY KEY (user_id, conversation, last_seq));"},
      // The search index (PostgresSearchIndex): one row per message, its
      // words as a tsvector under a GIN index, the whole message as bytes.
      {6,
       "CREATE TABLE search_messages ("
       "  id bigint PRIMARY KEY,"
       "  conversation text NOT NULL,"
       "  words tsvector NOT NULL,"
       "  payload bytea NOT NULL);"
       "CREATE INDEX search_messages_words ON search_messages USING gin (words);"
       "CREATE INDEX search_messages_by_conversation ON search_messages (conversation, id);"},
      // The push ledger's claims: the server sending a closed batch and
      // when it closed it or last renewed its lease. Rows closed before
      // this migration belong to nobody since the epoch, so the first
      // dispatcher to see one takes it over.
      {7,
       "ALTER TABLE push_closed"
       "  ADD COLUMN closed_by text NOT NULL DEFAULT '',"
       "  ADD COLUMN closed_at bigint NOT NULL DEFAULT 0;"},
      // Private channels: who may join a room by its id (0 anyone, 1 only
      // those an owner or admin adds). Rooms made before are open. Room ids
      // are chosen by the caller from here on (drawn at random); the
      // identity column is left as it is and no longer used.
      {8, "ALTER TABLE rooms ADD COLUMN access smallint NOT NULL DEFAULT 0;"},
      // Sessions slide (PostgresDirectory): when each was last used, as
      // far as anyone knows its creation for the older ones; and a user's
      // sessions, listed and ended together.
      {9,
       "ALTER TABLE sessions ADD COLUMN last_used_at bigint NOT NULL DEFAULT 0;"
       "UPDATE sessions SET last_used_at = created_at;"
       "CREATE INDEX sessions_by_user ON sessions (user_id, device, created_at);"},
      // Users an administrator disabled (logins refused), and the
      // administrator's list of users by name, in byte order.
      {10,
       "ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false;"
       "CREATE INDEX users_by_name_bytes ON users (username COLLATE \"C\");"},
      // Users an administrator deleted: the row stays, with no password,
      // so that the name stays taken; lookups skip it.
      {11,
       "ALTER TABLE users ADD COLUMN deleted boolean NOT NULL DEFAULT false;"
       "CREATE INDEX users_deleted ON users (id) WHERE deleted;"},
  };
  return all;
}

}  // namespace parley::postgres
