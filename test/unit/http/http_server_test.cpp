// The HTTP/1.1 transport over loopback sockets (port 0): routing and errors, limits, keep-alive
// and pipelining, chunked streaming, API key, CORS, disconnect detection, backpressure, timeouts,
// graceful shutdown, many concurrent connections, and no leaked connection objects.
#include "TestClient.h"

#include "http/ApiKey.h"
#include "http/ErrorBody.h"
#include "http/RecordingResponseWriter.h"
#include "http/Server.h"
#include "support/Error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

using namespace llmrt::http;
using llmrt::http::test::eventually;
using llmrt::http::test::Response;
using llmrt::http::test::TestClient;
using namespace std::chrono_literals;

namespace {

std::string request(std::string_view method, std::string_view target,
                    std::string_view extraHeaders = "", std::string_view body = "") {
  std::string out = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n";
  out += extraHeaders;
  if (!body.empty() || method == "POST")
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

nlohmann::json errorOf(const Response &response) {
  return nlohmann::json::parse(response.body())["error"];
}

// Records a writer's onClose and lets a test wait for it.
struct CloseFlag {
  std::atomic<int> calls{0};
  std::function<void()> callback() {
    return [this] { calls.fetch_add(1); };
  }
  bool fired() const { return calls.load() > 0; }
};

// Hands writers from handlers (I/O threads) to the test thread.
struct WriterBox {
  std::mutex mutex;
  std::vector<std::shared_ptr<ResponseWriter>> writers;
  void put(std::shared_ptr<ResponseWriter> writer) {
    std::lock_guard lock(mutex);
    writers.push_back(std::move(writer));
  }
  size_t size() {
    std::lock_guard lock(mutex);
    return writers.size();
  }
  std::shared_ptr<ResponseWriter> at(size_t i) {
    std::lock_guard lock(mutex);
    return writers.at(i);
  }
};

class HttpServerTest : public ::testing::Test {
protected:
  static ServerOptions defaults() {
    ServerOptions options;
    options.port = 0;
    options.ioThreads = 2;
    return options;
  }

  // Creates the server, adds the usual routes (GET /hello, POST /echo, GET /health public), lets
  // addRoutes add more, and starts it.
  void start(ServerOptions options = defaults(),
             const std::function<void(Server &)> &addRoutes = {}) {
    server_ = std::make_unique<Server>(std::move(options));
    server_->route("GET", "/hello", [](const Request &request, auto writer) {
      writer->respond(200, "hello " + request.query, "text/plain");
    });
    server_->route("POST", "/echo", [](const Request &request, auto writer) {
      writer->setHeader("X-Method", request.method);
      writer->respond(200, request.body, "application/octet-stream");
    });
    server_->route("GET", "/health", [](const Request &, auto writer) {
      writer->respond(200, "ok", "text/plain");
    }, /*isPublic=*/true);
    if (addRoutes)
      addRoutes(*server_);
    server_->start();
  }

  void TearDown() override {
    if (!server_)
      return;
    server_->stop();
    EXPECT_EQ(server_->liveConnections(), 0u) << "connection objects outlived stop()";
    EXPECT_EQ(server_->activeResponses(), 0u);
  }

  // All clients gone: every connection object must be destroyed (no leak), without stop().
  void expectNoConnectionsLeft() {
    EXPECT_TRUE(eventually([&] { return server_->liveConnections() == 0; }))
        << server_->liveConnections() << " connection objects still alive";
  }

  uint16_t port() const { return server_->port(); }
  std::unique_ptr<Server> server_;
};

// ---- routing and errors ----

TEST_F(HttpServerTest, RoutesByMethodAndPathWithoutQuery) {
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send(request("GET", "/hello?name=x&y=1")));
  Response response = client.read();
  ASSERT_TRUE(response.complete);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body(), "hello name=x&y=1");
  EXPECT_EQ(response.header("Content-Type"), "text/plain");

  ASSERT_TRUE(client.send(request("POST", "/echo", "", "payload \x01\x02 bytes")));
  response = client.read();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body(), "payload \x01\x02 bytes");
  EXPECT_EQ(response.header("x-method"), "POST"); // handler header
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405) {
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send(request("GET", "/nope")));
  Response response = client.read();
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.header("Content-Type"), "application/json");
  auto error = errorOf(response);
  EXPECT_EQ(error["type"], "invalid_request_error");
  EXPECT_EQ(error["code"], "not_found");
  EXPECT_TRUE(error["param"].is_null());
  EXPECT_NE(error["message"].get<std::string>().find("/nope"), std::string::npos);

  ASSERT_TRUE(client.send(request("DELETE", "/echo")));
  response = client.read();
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.header("Allow"), "POST");
  EXPECT_EQ(errorOf(response)["code"], "method_not_allowed");
  // The connection stays usable after 404 and 405.
  ASSERT_TRUE(client.send(request("GET", "/hello")));
  EXPECT_EQ(client.read().status, 200);
}

TEST_F(HttpServerTest, ErrorBodyShape) {
  auto body = nlohmann::json::parse(openaiErrorJson("bad \"x\"", "invalid_request_error",
                                                    "messages", "invalid_value"));
  EXPECT_EQ(body.dump(), R"({"error":{"code":"invalid_value","message":"bad \"x\"",)"
                         R"("param":"messages","type":"invalid_request_error"}})");
  EXPECT_EQ(openaiErrorJson("m", "t"),
            R"({"error":{"message":"m","type":"t","param":null,"code":null}})");
  // Invalid UTF-8 is replaced, never thrown.
  EXPECT_NO_THROW(nlohmann::json::parse(openaiErrorJson("\xff\xfe", "t")));
}

TEST_F(HttpServerTest, HandlerExceptionAndAbandonedWriterBecome500) {
  start(defaults(), [](Server &server) {
    server.route("GET", "/throws", [](const Request &, auto) {
      throw llm::Error("the handler failed on purpose");
    });
    server.route("GET", "/forgets", [](const Request &, auto) {});
    server.route("GET", "/stream-forgets", [](const Request &, auto writer) {
      writer->beginStream();
      writer->write("partial");
    });
  });
  TestClient client(port());
  ASSERT_TRUE(client.send(request("GET", "/throws")));
  Response response = client.read();
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(errorOf(response)["message"], "the handler failed on purpose");
  EXPECT_EQ(errorOf(response)["type"], "server_error");
  ASSERT_TRUE(client.send(request("GET", "/forgets")));
  response = client.read();
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(errorOf(response)["code"], "internal_error");
  ASSERT_TRUE(client.send(request("GET", "/stream-forgets")));
  response = client.read(); // ended by the writer's destructor
  ASSERT_TRUE(response.complete);
  EXPECT_EQ(response.body(), "partial");
}

TEST_F(HttpServerTest, RouteRegistrationErrors) {
  start();
  EXPECT_THROW(server_->route("GET", "/late", [](const Request &, auto) {}), llm::Error);
  Router router;
  router.add("GET", "/a", {}, false);
  EXPECT_THROW(router.add("GET", "/a", {}, false), llm::Error);
  EXPECT_THROW(router.add("GET", "no-slash", {}, false), llm::Error);
  EXPECT_THROW(router.add("GET", "/a?q", {}, false), llm::Error);
}

// ---- limits and malformed input ----

TEST_F(HttpServerTest, OversizeBodyIs413WithoutReadingIt) {
  ServerOptions options = defaults();
  options.maxBodyBytes = 1000;
  start(options);
  {
    // Declares far more than the limit and sends almost nothing: answered at once.
    TestClient client(port());
    ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000000\r\n"
                            "\r\nabc"));
    Response response = client.read();
    EXPECT_EQ(response.status, 413);
    EXPECT_EQ(errorOf(response)["code"], "request_too_large");
    EXPECT_EQ(response.header("Connection"), "close");
    EXPECT_TRUE(client.waitClosed());
  }
  {
    // Chunked: no length up front; the body grows past the limit.
    TestClient client(port());
    std::string chunk(600, 'x');
    std::string message = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i)
      message += "258\r\n" + chunk + "\r\n";
    ASSERT_TRUE(client.send(message));
    EXPECT_EQ(client.read().status, 413);
    EXPECT_TRUE(client.waitClosed());
  }
  {
    // A Content-Length smaller than what follows: the extra bytes are read as the next
    // request, which is malformed.
    TestClient client(port());
    ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\n"
                            "abcdefgh garbage\r\n\r\n"));
    Response first = client.read();
    EXPECT_EQ(first.status, 200);
    EXPECT_EQ(first.body(), "abc");
    EXPECT_EQ(client.read().status, 400);
    EXPECT_TRUE(client.waitClosed());
  }
  {
    // At the limit is fine.
    TestClient client(port());
    ASSERT_TRUE(client.send(request("POST", "/echo", "", std::string(1000, 'y'))));
    EXPECT_EQ(client.read().body().size(), 1000u);
  }
  expectNoConnectionsLeft();
}

TEST_F(HttpServerTest, MalformedRequestIs400ThenClose) {
  start();
  for (std::string bad : {"GARBAGE\r\n\r\n", "GET /hello HTTP/1.1\r\nno colon here\r\n\r\n",
                          "GET /hello HTTP/9.Z\r\n\r\n",
                          "POST /echo HTTP/1.1\r\nContent-Length: 12x\r\n\r\n"}) {
    TestClient client(port());
    ASSERT_TRUE(client.send(bad));
    Response response = client.read();
    EXPECT_EQ(response.status, 400) << bad;
    EXPECT_EQ(errorOf(response)["code"], "bad_request");
    EXPECT_TRUE(client.waitClosed()) << bad;
  }
  expectNoConnectionsLeft();
}

TEST_F(HttpServerTest, OversizeHeadersAre431) {
  ServerOptions options = defaults();
  options.maxHeaderBytes = 2048;
  start(options);
  TestClient client(port());
  ASSERT_TRUE(client.send(request("GET", "/hello", "X-Big: " + std::string(4000, 'a') + "\r\n")));
  Response response = client.read();
  EXPECT_EQ(response.status, 431);
  EXPECT_TRUE(client.waitClosed());
}

TEST_F(HttpServerTest, ExpectContinueGets100First) {
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                          "Content-Length: 5\r\n\r\n"));
  ASSERT_TRUE(client.readUntil("\r\n\r\n"));
  EXPECT_EQ(client.pending(), "HTTP/1.1 100 Continue\r\n\r\n");
  client.pending().clear();
  ASSERT_TRUE(client.send("hello"));
  Response response = client.read();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body(), "hello");
}

// ---- keep-alive ----

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send(request("GET", "/hello?1")));
  Response first = client.read();
  ASSERT_TRUE(client.send(request("GET", "/hello?2")));
  Response second = client.read();
  EXPECT_EQ(first.body(), "hello 1");
  EXPECT_EQ(second.body(), "hello 2");
  EXPECT_TRUE(first.message.keep_alive());
  EXPECT_EQ(server_->liveConnections(), 1u);
}

TEST_F(HttpServerTest, PipelinedRequestsAnsweredInOrder) {
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send(request("GET", "/hello?a") + request("POST", "/echo", "", "b") +
                          request("GET", "/hello?c", "Connection: close\r\n")));
  EXPECT_EQ(client.read().body(), "hello a");
  EXPECT_EQ(client.read().body(), "b");
  Response last = client.read();
  EXPECT_EQ(last.body(), "hello c");
  EXPECT_EQ(last.header("Connection"), "close");
  EXPECT_TRUE(client.waitClosed());
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAlive) {
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send("GET /hello HTTP/1.0\r\n\r\n"));
  Response response = client.read();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.message.version(), 10u);
  EXPECT_TRUE(client.waitClosed());
}

// ---- streaming ----

TEST_F(HttpServerTest, ChunkedStreamArrivesIntactAndConnectionIsReused) {
  std::string expected;
  for (int i = 0; i < 200; ++i)
    expected += "data: {\"token\": " + std::to_string(i) + ", \"text\": \"" +
                std::string(i % 50, 'x') + "\"}\n\n";
  std::vector<std::thread> engine;
  std::mutex engineMutex;
  start(defaults(), [&](Server &server) {
    server.route("POST", "/stream", [&](const Request &, std::shared_ptr<ResponseWriter> writer) {
      writer->setHeader("Cache-Control", "no-cache");
      writer->beginStream(200, "text/event-stream");
      std::lock_guard lock(engineMutex);
      // The "engine thread" finishes the response later.
      engine.emplace_back([writer] {
        for (int i = 0; i < 200; ++i)
          writer->write("data: {\"token\": " + std::to_string(i) + ", \"text\": \"" +
                        std::string(i % 50, 'x') + "\"}\n\n");
        writer->write(""); // dropped: an empty chunk would end the body
        writer->end();
        writer->write("after end: dropped");
      });
    });
  });
  TestClient client(port());
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(client.send(request("POST", "/stream", "", "{}")));
    Response response = client.read();
    ASSERT_TRUE(response.complete);
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.header("Content-Type"), "text/event-stream");
    EXPECT_EQ(response.header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(response.header("Cache-Control"), "no-cache");
    EXPECT_EQ(response.body(), expected);
  }
  ASSERT_TRUE(client.send(request("GET", "/hello")));
  EXPECT_EQ(client.read().status, 200);
  for (auto &thread : engine)
    thread.join();
  EXPECT_TRUE(eventually([&] { return server_->activeResponses() == 0; }));
}

TEST_F(HttpServerTest, Http10StreamIsUnchunkedAndEndsWithClose) {
  start(defaults(), [](Server &server) {
    server.route("GET", "/stream", [](const Request &, auto writer) {
      writer->beginStream();
      writer->write("one ");
      writer->write("two");
      writer->end();
    });
  });
  TestClient client(port());
  ASSERT_TRUE(client.send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  Response response = client.read();
  ASSERT_TRUE(response.complete);
  EXPECT_EQ(response.body(), "one two");
  EXPECT_EQ(response.header("Transfer-Encoding"), "");
  EXPECT_TRUE(client.waitClosed());
}

// ---- disconnects ----

TEST_F(HttpServerTest, ClientDisconnectMidStreamFiresOnClose) {
  WriterBox box;
  CloseFlag flag;
  start(defaults(), [&](Server &server) {
    server.route("GET", "/stream", [&](const Request &, std::shared_ptr<ResponseWriter> writer) {
      writer->onClose(flag.callback());
      writer->beginStream();
      writer->write("data: first\n\n");
      box.put(writer); // the engine keeps it
    });
  });
  TestClient client(port());
  ASSERT_TRUE(client.send(request("GET", "/stream")));
  ASSERT_TRUE(client.readUntil("data: first"));
  ASSERT_EQ(box.size(), 1u);
  auto writer = box.at(0);
  EXPECT_FALSE(writer->closed());
  EXPECT_EQ(server_->activeResponses(), 1u);
  client.close(); // the client goes away while the stream is pending

  EXPECT_TRUE(eventually([&] { return flag.fired(); }));
  EXPECT_TRUE(writer->closed());
  EXPECT_EQ(server_->activeResponses(), 0u);
  // Writes after the close are dropped, without crashing.
  for (int i = 0; i < 100; ++i)
    writer->write("data: late\n\n");
  writer->end();
  // onClose registered now runs at once; the earlier one ran exactly once.
  CloseFlag late;
  writer->onClose(late.callback());
  EXPECT_TRUE(late.fired());
  EXPECT_EQ(flag.calls.load(), 1);
  // The writer is still held, yet the connection object is gone (writers hold no reference).
  expectNoConnectionsLeft();
}

TEST_F(HttpServerTest, ClientDisconnectBeforeAnyResponseFiresOnClose) {
  WriterBox box;
  CloseFlag flag;
  start(defaults(), [&](Server &server) {
    server.route("POST", "/slow", [&](const Request &, std::shared_ptr<ResponseWriter> writer) {
      writer->onClose(flag.callback());
      box.put(writer);
    });
  });
  TestClient client(port());
  ASSERT_TRUE(client.send(request("POST", "/slow", "", "{}")));
  ASSERT_TRUE(eventually([&] { return box.size() == 1; }));
  client.close();
  EXPECT_TRUE(eventually([&] { return flag.fired(); }));
  EXPECT_TRUE(box.at(0)->closed());
  box.at(0)->respond(200, "too late");
  expectNoConnectionsLeft();
}

TEST_F(HttpServerTest, NormalEndDoesNotFireOnClose) {
  CloseFlag flag;
  start(defaults(), [&](Server &server) {
    server.route("GET", "/s", [&](const Request &, auto writer) {
      writer->onClose(flag.callback());
      writer->beginStream();
      writer->write("x");
      writer->end();
    });
  });
  {
    TestClient client(port());
    ASSERT_TRUE(client.send(request("GET", "/s")));
    EXPECT_EQ(client.read().body(), "x");
  }
  expectNoConnectionsLeft();
  EXPECT_FALSE(flag.fired());
}

// ---- backpressure and timeouts ----

TEST_F(HttpServerTest, SlowReaderIsCutOffAtTheQueueCap) {
  ServerOptions options = defaults();
  options.maxQueuedBytes = 1 << 20;
  WriterBox box;
  CloseFlag flag;
  start(options, [&](Server &server) {
    server.route("GET", "/flood", [&](const Request &, std::shared_ptr<ResponseWriter> writer) {
      writer->onClose(flag.callback());
      writer->beginStream();
      box.put(writer);
    });
  });
  TestClient client(port()); // never reads
  ASSERT_TRUE(client.send(request("GET", "/flood")));
  ASSERT_TRUE(eventually([&] { return box.size() == 1; }));
  auto writer = box.at(0);
  const std::string chunk(64 << 10, 'z');
  size_t written = 0;
  while (!writer->closed() && written < (size_t(1) << 30)) {
    writer->write(chunk);
    written += chunk.size();
  }
  EXPECT_TRUE(eventually([&] { return writer->closed(); }));
  EXPECT_TRUE(eventually([&] { return flag.fired(); }));
  EXPECT_LT(written, size_t(1) << 30) << "the server buffered a gigabyte for a client that "
                                         "does not read";
  client.close();
  expectNoConnectionsLeft();
}

TEST_F(HttpServerTest, StalledWriteTimesOut) {
  ServerOptions options = defaults();
  options.writeTimeout = 200ms;
  CloseFlag flag;
  start(options, [&](Server &server) {
    server.route("GET", "/big", [&](const Request &, auto writer) {
      writer->onClose(flag.callback());
      writer->respond(200, std::string(64 << 20, 'b'), "text/plain"); // more than the socket takes
    });
  });
  TestClient client(port()); // never reads
  ASSERT_TRUE(client.send(request("GET", "/big")));
  EXPECT_TRUE(eventually([&] { return flag.fired(); }));
  client.close();
  expectNoConnectionsLeft();
}

TEST_F(HttpServerTest, IdleAndSlowlorisClientsAreDropped) {
  ServerOptions options = defaults();
  options.readTimeout = 200ms;
  start(options);
  TestClient idle(port());
  TestClient slow(port());
  ASSERT_TRUE(slow.send("GET /hello HTTP/1.1\r\nHo"));
  // Drip-feeds a header byte every 50 ms: the whole request must arrive within readTimeout.
  std::atomic<bool> dripping{true};
  std::thread drip([&] {
    while (dripping && slow.send("x"))
      std::this_thread::sleep_for(50ms);
  });
  TestClient afterResponse(port());
  ASSERT_TRUE(afterResponse.send(request("GET", "/hello")));
  EXPECT_EQ(afterResponse.read().status, 200);
  EXPECT_TRUE(idle.waitClosed());
  EXPECT_TRUE(afterResponse.waitClosed()); // idle keep-alive after a response
  EXPECT_TRUE(eventually([&] { return server_->liveConnections() == 0; }));
  dripping = false;
  drip.join();
}

// ---- API key ----

TEST_F(HttpServerTest, ApiKeyGuardsAllButPublicRoutes) {
  ServerOptions options = defaults();
  options.apiKey = "sk-test-123";
  start(options);
  TestClient client(port());
  auto get = [&](std::string_view target, std::string_view headers) {
    EXPECT_TRUE(client.send(request("GET", target, headers)));
    return client.read();
  };
  Response missing = get("/hello", "");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(errorOf(missing)["code"], "invalid_api_key");
  EXPECT_EQ(errorOf(missing)["type"], "invalid_request_error");
  Response wrong = get("/hello", "Authorization: Bearer sk-test-124\r\n");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(errorOf(wrong)["code"], "invalid_api_key");
  EXPECT_EQ(get("/hello", "Authorization: Bearer sk-test-12\r\n").status, 401);
  EXPECT_EQ(get("/hello", "Authorization: Bearer sk-test-1234\r\n").status, 401);
  EXPECT_EQ(get("/hello", "Authorization: Basic sk-test-123\r\n").status, 401);
  EXPECT_EQ(get("/hello", "Authorization: sk-test-123\r\n").status, 401);
  EXPECT_EQ(get("/hello", "Authorization: Bearer sk-test-123\r\n").status, 200);
  EXPECT_EQ(get("/hello", "authorization: bearer   sk-test-123 \r\n").status, 200);
  EXPECT_EQ(get("/health", "").status, 200); // public
  EXPECT_EQ(get("/nope", "").status, 404);
  EXPECT_EQ(get("/echo", "").status, 401); // known path, wrong method, no key: 401 first
  EXPECT_EQ(get("/echo", "Authorization: Bearer sk-test-123\r\n").status, 405);
}

TEST(ApiKey, ConstantTimeEqualsAndBearerParsing) {
  EXPECT_TRUE(constantTimeEquals("", ""));
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "ab"));
  EXPECT_FALSE(constantTimeEquals("ab", "abc"));
  EXPECT_FALSE(constantTimeEquals("", "a"));
  EXPECT_FALSE(constantTimeEquals(std::string("a\0b", 3), "a"));
  EXPECT_EQ(bearerToken("Bearer  tok "), "tok");
  EXPECT_EQ(bearerToken("BEARER\ttok"), "tok");
  EXPECT_FALSE(bearerToken("Bearer").has_value());
  EXPECT_FALSE(bearerToken("Bearer   ").has_value());
  EXPECT_FALSE(bearerToken("Bearertok").has_value());
  EXPECT_FALSE(apiKeyMatches("", "k"));
  EXPECT_TRUE(apiKeyMatches("Bearer k", "k"));
}

// ---- the test double for the API layer ----

TEST(RecordingResponseWriter, RecordsAStreamAndPlaysADisconnect) {
  auto writer = std::make_shared<RecordingResponseWriter>();
  CloseFlag flag;
  writer->onClose(flag.callback());
  writer->setHeader("x-request-id", "r1");
  EXPECT_THROW(writer->setHeader("Bad Name", "v"), llm::Error);
  EXPECT_THROW(writer->setHeader("X-Ok", "a\r\nInjected: 1"), llm::Error);
  EXPECT_THROW(writer->setHeader("Content-Length", "3"), llm::Error);
  writer->write("before begin: dropped");
  writer->beginStream();
  writer->respond(200, "after begin: dropped");
  writer->write("a");
  writer->write("");
  writer->write("b");
  EXPECT_FALSE(writer->closed());
  writer->disconnect();
  EXPECT_TRUE(writer->closed());
  EXPECT_EQ(flag.calls.load(), 1);
  writer->write("c");
  EXPECT_EQ(writer->chunks(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(writer->status(), 200);
  EXPECT_EQ(writer->contentType(), "text/event-stream");
  EXPECT_EQ(writer->headers(), (std::vector<Header>{{"x-request-id", "r1"}}));
  EXPECT_FALSE(writer->ended());

  auto plain = std::make_shared<RecordingResponseWriter>();
  std::thread engine([plain] { plain->respond(404, "{}"); });
  EXPECT_TRUE(plain->waitEnded(10s));
  engine.join();
  EXPECT_EQ(plain->status(), 404);
  EXPECT_EQ(plain->body(), "{}");
  CloseFlag never;
  plain->onClose(never.callback());
  plain->disconnect();
  EXPECT_FALSE(never.fired()); // the response had ended
}

// ---- CORS ----

TEST_F(HttpServerTest, CorsIsOffByDefault) {
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send(request("GET", "/hello", "Origin: https://app.example\r\n")));
  Response response = client.read();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("Access-Control-Allow-Origin"), "");
  ASSERT_TRUE(client.send(request("OPTIONS", "/echo",
                                  "Origin: https://app.example\r\n"
                                  "Access-Control-Request-Method: POST\r\n")));
  EXPECT_EQ(client.read().status, 405);
}

TEST_F(HttpServerTest, CorsWithAnOriginList) {
  ServerOptions options = defaults();
  options.corsOrigins = {"https://app.example", "http://localhost:3000"};
  options.apiKey = "k"; // preflights need no key
  start(options);
  TestClient client(port());
  ASSERT_TRUE(client.send(request("OPTIONS", "/echo",
                                  "Origin: https://app.example\r\n"
                                  "Access-Control-Request-Method: POST\r\n"
                                  "Access-Control-Request-Headers: authorization, content-type\r\n")));
  Response preflight = client.read();
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(preflight.header("Vary"), "Origin");
  EXPECT_EQ(preflight.header("Access-Control-Allow-Methods"), "POST");
  EXPECT_EQ(preflight.header("Access-Control-Allow-Headers"), "authorization, content-type");
  EXPECT_EQ(preflight.header("Access-Control-Max-Age"), "600");
  EXPECT_EQ(preflight.header("Content-Length"), "");

  // The actual request (and its errors) carry the origin header.
  ASSERT_TRUE(client.send(request("POST", "/echo", "Origin: https://app.example\r\n", "x")));
  Response unauthorized = client.read();
  EXPECT_EQ(unauthorized.status, 401);
  EXPECT_EQ(unauthorized.header("Access-Control-Allow-Origin"), "https://app.example");
  ASSERT_TRUE(client.send(request("POST", "/echo",
                                  "Origin: http://localhost:3000\r\nAuthorization: Bearer k\r\n",
                                  "x")));
  Response ok = client.read();
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.header("Access-Control-Allow-Origin"), "http://localhost:3000");

  // Another origin: no CORS headers, and its preflight is refused.
  ASSERT_TRUE(client.send(request("GET", "/health", "Origin: https://evil.example\r\n")));
  EXPECT_EQ(client.read().header("Access-Control-Allow-Origin"), "");
  ASSERT_TRUE(client.send(request("OPTIONS", "/echo",
                                  "Origin: https://evil.example\r\n"
                                  "Access-Control-Request-Method: POST\r\n")));
  EXPECT_EQ(client.read().status, 403);
}

TEST_F(HttpServerTest, CorsWithAnyOrigin) {
  ServerOptions options = defaults();
  options.corsOrigins = {"*"};
  start(options);
  TestClient client(port());
  ASSERT_TRUE(client.send(request("OPTIONS", "/hello",
                                  "Origin: https://x.example\r\n"
                                  "Access-Control-Request-Method: GET\r\n")));
  Response preflight = client.read();
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.header("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(preflight.header("Access-Control-Allow-Headers"), "Authorization, Content-Type");
  ASSERT_TRUE(client.send(request("GET", "/hello", "Origin: https://y.example\r\n")));
  EXPECT_EQ(client.read().header("Access-Control-Allow-Origin"), "*");
  ASSERT_TRUE(client.send(request("GET", "/hello"))); // no Origin: no CORS headers
  EXPECT_EQ(client.read().header("Access-Control-Allow-Origin"), "");
}

// ---- shutdown ----

TEST_F(HttpServerTest, GracefulShutdownFinishesInFlightStreams) {
  WriterBox box;
  start(defaults(), [&](Server &server) {
    server.route("GET", "/stream", [&](const Request &, std::shared_ptr<ResponseWriter> writer) {
      writer->beginStream();
      writer->write("first\n");
      box.put(writer);
    });
  });
  TestClient idle(port()); // keep-alive, between requests
  ASSERT_TRUE(idle.send(request("GET", "/hello")));
  EXPECT_EQ(idle.read().status, 200);
  TestClient streaming(port());
  ASSERT_TRUE(streaming.send(request("GET", "/stream")));
  ASSERT_TRUE(streaming.readUntil("first\n"));

  server_->stopAccepting();
  TestClient refused(port());
  EXPECT_FALSE(refused.connected()) << "a connection was accepted after stopAccepting()";
  EXPECT_TRUE(idle.waitClosed()); // idle keep-alive connections are closed
  EXPECT_EQ(server_->activeResponses(), 1u);
  EXPECT_FALSE(server_->waitUntilIdle(10ms));

  auto writer = box.at(0);
  EXPECT_FALSE(writer->closed()); // the in-flight stream goes on
  writer->write("second\n");
  writer->end();
  Response response = streaming.read();
  ASSERT_TRUE(response.complete);
  EXPECT_EQ(response.body(), "first\nsecond\n");
  EXPECT_TRUE(server_->waitUntilIdle(10s));
  EXPECT_TRUE(streaming.waitClosed()); // no further requests once draining
  server_->stop();
  EXPECT_EQ(server_->liveConnections(), 0u);
  server_->stop(); // idempotent
}

TEST_F(HttpServerTest, StopClosesPendingStreamsAndFiresOnClose) {
  WriterBox box;
  CloseFlag flag;
  start(defaults(), [&](Server &server) {
    server.route("GET", "/stream", [&](const Request &, std::shared_ptr<ResponseWriter> writer) {
      writer->onClose(flag.callback());
      writer->beginStream();
      writer->write("first\n");
      box.put(writer);
    });
  });
  TestClient client(port());
  ASSERT_TRUE(client.send(request("GET", "/stream")));
  ASSERT_TRUE(client.readUntil("first\n"));
  // stop() from another thread (as a signal-handling thread would).
  std::thread stopper([&] { server_->stop(); });
  stopper.join();
  EXPECT_TRUE(flag.fired());
  EXPECT_TRUE(box.at(0)->closed());
  EXPECT_EQ(server_->liveConnections(), 0u);
  EXPECT_TRUE(client.waitClosed());
  // The writer outlives the server: calls are dropped.
  auto writer = box.at(0);
  server_.reset();
  writer->write("after the server is gone");
  writer->end();
}

TEST_F(HttpServerTest, BindFailureNamesHostAndPort) {
  start();
  ServerOptions options = defaults();
  options.port = port();
  try {
    Server second(options);
    FAIL() << "a second server bound the same port";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port())),
              std::string::npos)
        << e.what();
  }
  options.host = "no-such-host.invalid";
  EXPECT_THROW(Server bad(options), llm::Error);
  options = defaults();
  options.ioThreads = 0;
  EXPECT_THROW(Server bad(options), llm::Error);
  Server neverStarted(defaults()); // destroyed without start()
}

// ---- scale ----

TEST_F(HttpServerTest, FiveHundredConcurrentConnectionsOnTwoThreads) {
  // Each connection holds two descriptors here (client and server side).
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < 1200 && limit.rlim_max > limit.rlim_cur) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 4096);
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  const size_t count = std::min<size_t>(500, (limit.rlim_cur - 64) / 2);
  WriterBox box;
  start(defaults(), [&](Server &server) {
    server.route("POST", "/hold", [&](const Request &request, std::shared_ptr<ResponseWriter> w) {
      w->setHeader("X-Body", request.body);
      box.put(w); // answered once every request is in
    });
  });
  std::vector<std::unique_ptr<TestClient>> clients;
  for (size_t i = 0; i < count; ++i) {
    clients.push_back(std::make_unique<TestClient>(port()));
    ASSERT_TRUE(clients.back()->connected()) << i;
    ASSERT_TRUE(clients.back()->send(request("POST", "/hold", "", std::to_string(i))));
  }
  ASSERT_TRUE(eventually([&] { return box.size() == count; }));
  EXPECT_EQ(server_->activeResponses(), count);
  for (size_t i = 0; i < count; ++i) {
    box.at(i)->respond(200, "answer", "text/plain");
  }
  for (size_t i = 0; i < count; ++i) {
    Response response = clients[i]->read();
    ASSERT_TRUE(response.complete) << i;
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.header("X-Body"), std::to_string(i));
  }
  EXPECT_TRUE(server_->waitUntilIdle(10s));
  clients.clear();
  expectNoConnectionsLeft();
}

} // namespace
