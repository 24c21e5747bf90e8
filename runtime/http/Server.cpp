#include "http/Server.h"

#include "http/Connection.h"
#include "http/ServerCore.h"
#include "support/Error.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/strand.hpp>

#include <cstdio>
#include <limits>
#include <optional>
#include <thread>

namespace llmrt::http {

namespace net = boost::asio;
using boost::system::error_code;
using tcp = net::ip::tcp;

namespace {

// A failed accept (out of file descriptors, ...) is retried after this pause instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetry{50};
// stop() waits this long for connections to finish closing before it stops the io_context.
constexpr std::chrono::seconds kStopWait{5};

std::string hostPort(const ServerOptions &options) {
  if (options.host.find(':') != std::string::npos)
    return fmt::format("[{}]:{}", options.host, options.port);
  return fmt::format("{}:{}", options.host, options.port);
}

void checkOptions(const ServerOptions &options) {
  if (options.ioThreads < 1 || options.ioThreads > 1024)
    llm::fail("server option ioThreads is {}; expected 1 to 1024", options.ioThreads);
  if (options.maxBodyBytes == 0)
    llm::fail("server option maxBodyBytes is 0; expected at least 1 byte");
  if (options.maxHeaderBytes < 1024 || options.maxHeaderBytes > (64u << 20))
    llm::fail("server option maxHeaderBytes is {}; expected 1 KiB to 64 MiB",
              options.maxHeaderBytes);
  if (options.readTimeout.count() <= 0 || options.writeTimeout.count() <= 0)
    llm::fail("server options readTimeout and writeTimeout must be positive");
  if (options.maxQueuedBytes == 0)
    llm::fail("server option maxQueuedBytes is 0; expected at least 1 byte");
}

} // namespace

struct Server::Impl {
  explicit Impl(ServerOptions options)
      : ioc(options.ioThreads), core(std::make_shared<detail::ServerCore>(std::move(options))),
        acceptor(ioc), acceptRetry(ioc) {}

  void bind();
  void accept(); // caller holds acceptMutex
  void onAccept(error_code ec, tcp::socket socket);
  void runIo();
  void join();

  net::io_context ioc; // first: destroyed last, after everything that uses it
  std::shared_ptr<detail::ServerCore> core;
  tcp::acceptor acceptor;
  net::steady_timer acceptRetry;
  std::mutex acceptMutex;
  bool accepting = false;
  uint16_t port = 0;

  std::mutex lifecycleMutex;
  bool started = false, stopped = false;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
};

void Server::Impl::bind() {
  const ServerOptions &options = core->options;
  error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(options.host, std::to_string(options.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec)
    llm::fail("cannot listen on {}: cannot resolve the host: {}", hostPort(options),
              ec.message());
  error_code last;
  for (const auto &entry : results) {
    tcp::endpoint endpoint = entry.endpoint();
    error_code ignored;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor.set_option(tcp::acceptor::reuse_address(true), ignored);
      if (endpoint.address().is_v6())
        acceptor.set_option(net::ip::v6_only(false), ignored);
      acceptor.bind(endpoint, ec);
    }
    if (!ec)
      acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (!ec) {
      port = acceptor.local_endpoint().port();
      return;
    }
    last = ec;
    acceptor.close(ignored);
  }
  llm::fail("cannot listen on {}: {}", hostPort(options),
            last ? last.message() : std::string("the host resolves to no address"));
}

void Server::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
    onAccept(ec, std::move(socket));
  });
}

void Server::Impl::onAccept(error_code ec, tcp::socket socket) {
  std::lock_guard lock(acceptMutex);
  if (!accepting)
    return; // stopAccepting() came first: the socket closes here
  if (ec == net::error::operation_aborted)
    return;
  if (ec) {
    acceptRetry.expires_after(kAcceptRetry);
    acceptRetry.async_wait([this](error_code ec) {
      std::lock_guard lock(acceptMutex);
      if (!ec && accepting)
        accept();
    });
    return;
  }
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored); // stream chunks leave at once
  std::make_shared<detail::Connection>(core, std::move(socket))->start();
  accept();
}

void Server::Impl::runIo() {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception &e) {
      std::fprintf(stderr, "llmrt http: an I/O handler failed: %s\n", e.what());
    }
  }
}

void Server::Impl::join() {
  for (std::thread &thread : threads)
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id())
      thread.join();
  threads.clear();
}

Server::Server(ServerOptions options) {
  checkOptions(options);
  impl_ = std::make_unique<Impl>(std::move(options));
  impl_->bind();
}

Server::~Server() {
  stop();
  impl_->join();
}

void Server::route(std::string method, std::string path, Handler handler, bool isPublic) {
  std::lock_guard lock(impl_->lifecycleMutex);
  if (impl_->started)
    llm::fail("route {} {}: routes must be added before the server starts", method, path);
  impl_->core->router.add(std::move(method), std::move(path), std::move(handler), isPublic);
}

void Server::start() {
  std::lock_guard lock(impl_->lifecycleMutex);
  if (impl_->started || impl_->stopped)
    llm::fail("the server was started or stopped already; start() may be called once");
  impl_->started = true;
  {
    std::lock_guard acceptLock(impl_->acceptMutex);
    if (impl_->acceptor.is_open()) {
      impl_->accepting = true;
      impl_->accept();
    }
  }
  impl_->work.emplace(impl_->ioc.get_executor());
  for (int i = 0; i < impl_->core->options.ioThreads; ++i)
    impl_->threads.emplace_back([impl = impl_.get()] { impl->runIo(); });
}

uint16_t Server::port() const { return impl_->port; }

const ServerOptions &Server::options() const { return impl_->core->options; }

void Server::stopAccepting() {
  impl_->core->draining = true;
  {
    std::lock_guard lock(impl_->acceptMutex);
    impl_->accepting = false;
    error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->acceptRetry.cancel();
  }
  for (const auto &connection : impl_->core->snapshot())
    connection->requestCloseIfIdle();
}

size_t Server::activeResponses() const { return impl_->core->activeResponses.load(); }

bool Server::waitUntilIdle(std::chrono::milliseconds timeout) const {
  auto &core = *impl_->core;
  std::unique_lock lock(core.mutex);
  return core.changed.wait_for(lock, timeout, [&] { return core.activeResponses.load() == 0; });
}

size_t Server::liveConnections() const { return impl_->core->liveConnections.load(); }

void Server::stop() {
  {
    std::lock_guard lock(impl_->lifecycleMutex);
    if (impl_->stopped)
      return;
    impl_->stopped = true;
  }
  stopAccepting();
  auto &core = *impl_->core;
  {
    std::lock_guard lock(core.mutex);
    core.stopping = true;
  }
  for (const auto &connection : core.snapshot())
    connection->requestClose();
  impl_->work.reset();
  if (impl_->ioc.get_executor().running_in_this_thread())
    return; // called from a handler: the destructor joins
  {
    std::unique_lock lock(core.mutex);
    bool closed = core.changed.wait_for(lock, kStopWait,
                                        [&] { return core.liveConnections.load() == 0; });
    if (!closed)
      impl_->ioc.stop();
  }
  impl_->join();
}

} // namespace llmrt::http
