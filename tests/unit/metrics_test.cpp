// Metrics: what a scrape of /metrics reads. Each counter renders under its
// documented name and labels with the value counted; the process metrics
// are there; render hooks run at each scrape and stop with their Hook.

#include "core/metrics.hpp"

#include <gtest/gtest.h>

#include <string>

namespace parley {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

TEST(Metrics, CountersRenderUnderTheirNamesWithTheirLabels) {
  Metrics metrics;
  RequestOutcomes& send = metrics.requests("websocket", "send");
  send.ok(3);
  send.failed(ErrorCode::rate_limited);
  metrics.requests("http", "POST /v1/users").failed(ErrorCode::conflict, 2);
  metrics.sends_acknowledged().Increment(3);
  metrics.deliveries().Increment(5);
  metrics.connections_accepted().Increment();
  metrics.connections_refused(Metrics::Refusal::address_full).Increment();
  metrics.rate_limited(Metrics::Limit::user_rate).Increment(4);

  const std::string text = metrics.render();
  EXPECT_TRUE(has_line(text, "# TYPE parley_requests_total counter")) << text;
  EXPECT_TRUE(has_line(text, R"(parley_requests_total{op="send",outcome="ok",transport="websocket"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(parley_requests_total{op="send",outcome="rate_limited",transport="websocket"} 1)"));
  EXPECT_TRUE(has_line(text, R"(parley_requests_total{op="send",outcome="internal",transport="websocket"} 0)"));
  EXPECT_TRUE(has_line(text, R"(parley_requests_total{op="POST /v1/users",outcome="conflict",transport="http"} 2)"));
  EXPECT_TRUE(has_line(text, "parley_sends_acknowledged_total 3"));
  EXPECT_TRUE(has_line(text, "parley_deliveries_total 5"));
  EXPECT_TRUE(has_line(text, "parley_connections_accepted_total 1"));
  EXPECT_TRUE(has_line(text, R"(parley_connections_refused_total{reason="address_full"} 1)"));
  EXPECT_TRUE(has_line(text, R"(parley_connections_refused_total{reason="server_full"} 0)"));
  EXPECT_TRUE(has_line(text, R"(parley_rate_limited_total{limit="user_rate"} 4)"));
  EXPECT_TRUE(has_line(text, "# TYPE process_cpu_seconds_total counter")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE process_resident_memory_bytes gauge"));
  EXPECT_EQ(text.find("process_resident_memory_bytes 0\n"), std::string::npos);
}

TEST(Metrics, RequestsForTheSameLabelsAreOneSeries) {
  Metrics metrics;
  metrics.requests("websocket", "ack").ok();
  metrics.requests("websocket", "ack").ok();
  EXPECT_EQ(&metrics.requests("websocket", "ack"), &metrics.requests("websocket", "ack"));
  EXPECT_TRUE(has_line(metrics.render(), R"(parley_requests_total{op="ack",outcome="ok",transport="websocket"} 2)"));
}

TEST(Metrics, ConnectionsOpenFollowTheirHolds) {
  Metrics metrics;
  {
    GaugeHold http(metrics.http_open());
    GaugeHold ws(metrics.websockets_open());
    GaugeHold moved = std::move(ws);
    const std::string text = metrics.render();
    EXPECT_TRUE(has_line(text, R"(parley_connections_open{kind="http"} 1)")) << text;
    EXPECT_TRUE(has_line(text, R"(parley_connections_open{kind="websocket"} 1)"));
    http.release();
    EXPECT_TRUE(has_line(metrics.render(), R"(parley_connections_open{kind="http"} 0)"));
  }
  EXPECT_TRUE(has_line(metrics.render(), R"(parley_connections_open{kind="websocket"} 0)"));
}

TEST(Metrics, StepSeriesAndRenderHooks) {
  Metrics metrics;
  StepMetrics inbox = metrics.step("inbox", /*with_lag=*/true);
  StepMetrics push = metrics.step("push", /*with_lag=*/false);
  ASSERT_NE(inbox.lag, nullptr);
  EXPECT_EQ(push.lag, nullptr);
  inbox.batch_seconds->Observe(0.002);
  inbox.records->Increment(7);
  int lag = 12;
  {
    auto hook = metrics.on_render([&] { inbox.lag->Set(lag); });
    const std::string text = metrics.render();
    EXPECT_TRUE(has_line(text, R"(parley_pipeline_lag_records{step="inbox"} 12)")) << text;
    EXPECT_TRUE(has_line(text, R"(parley_pipeline_records_total{step="inbox"} 7)"));
    EXPECT_TRUE(has_line(text, R"(parley_pipeline_batch_seconds_bucket{step="inbox",le="0.0025"} 1)"));
    EXPECT_TRUE(has_line(text, R"(parley_pipeline_batch_seconds_bucket{step="inbox",le="0.001"} 0)"));
    EXPECT_TRUE(has_line(text, R"(parley_pipeline_batch_seconds_count{step="inbox"} 1)"));
    EXPECT_EQ(text.find(R"(parley_pipeline_lag_records{step="push"})"), std::string::npos);
  }
  lag = 40;  // the hook is gone: the gauge keeps what it was last set to
  EXPECT_TRUE(has_line(metrics.render(), R"(parley_pipeline_lag_records{step="inbox"} 12)"));
}

}  // namespace
}  // namespace parley
