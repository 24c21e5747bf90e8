// A ResponseWriter that records what a handler does, for tests of the API layer without sockets.
// disconnect() plays a client that goes away (closed() turns true, onClose fires once).
//
// NOTE: thread-safe (one mutex) like the server's writer; waitEnded() lets a test wait for a
// handler that finishes its response on another thread.
#pragma once

#include "http/ResponseHead.h"
#include "http/ResponseWriter.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

namespace llmrt::http {

class RecordingResponseWriter final : public ResponseWriter {
public:
  int status() const {
    std::lock_guard lock(mutex_);
    return status_;
  }
  std::string contentType() const {
    std::lock_guard lock(mutex_);
    return contentType_;
  }
  std::vector<Header> headers() const {
    std::lock_guard lock(mutex_);
    return headers_;
  }
  // respond()'s body, or every chunk written so far, concatenated.
  std::string body() const {
    std::lock_guard lock(mutex_);
    return body_;
  }
  std::vector<std::string> chunks() const {
    std::lock_guard lock(mutex_);
    return chunks_;
  }
  bool streaming() const {
    std::lock_guard lock(mutex_);
    return streaming_;
  }
  bool ended() const {
    std::lock_guard lock(mutex_);
    return ended_;
  }

  // Waits until respond() or end() was called; false on timeout.
  bool waitEnded(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return ended_; });
  }

  // The client goes away: later output is dropped, onClose fires (if the response had not ended).
  void disconnect() {
    std::function<void()> callback;
    {
      std::lock_guard lock(mutex_);
      if (closed_)
        return;
      closed_ = true;
      if (!ended_)
        callback = std::move(onClose_);
      onClose_ = nullptr;
    }
    if (callback)
      callback();
  }

protected:
  void doSetHeader(std::string name, std::string value) override {
    checkHandlerHeader(name, value);
    std::lock_guard lock(mutex_);
    if (status_ == 0)
      headers_.emplace_back(std::move(name), std::move(value));
  }
  void doRespond(int status, std::string body, std::string contentType) override {
    std::lock_guard lock(mutex_);
    if (status_ != 0 || closed_)
      return;
    status_ = status;
    body_ = std::move(body);
    contentType_ = std::move(contentType);
    ended_ = true;
    cv_.notify_all();
  }
  void doBeginStream(int status, std::string contentType) override {
    std::lock_guard lock(mutex_);
    if (status_ != 0 || closed_)
      return;
    status_ = status;
    contentType_ = std::move(contentType);
    streaming_ = true;
  }
  void doWrite(std::string chunk) override {
    std::lock_guard lock(mutex_);
    if (!streaming_ || ended_ || closed_ || chunk.empty())
      return;
    body_ += chunk;
    chunks_.push_back(std::move(chunk));
  }
  void doEnd() override {
    std::unique_lock lock(mutex_);
    if (ended_ || closed_)
      return;
    if (!streaming_) {
      lock.unlock();
      doRespond(200, "", "application/json");
      return;
    }
    ended_ = true;
    cv_.notify_all();
  }
  bool isClosed() const override {
    std::lock_guard lock(mutex_);
    return closed_ || ended_;
  }
  void doOnClose(std::function<void()> callback) override {
    std::unique_lock lock(mutex_);
    if (closed_ && !ended_) {
      lock.unlock();
      callback();
      return;
    }
    if (!ended_)
      onClose_ = std::move(callback);
  }

private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  int status_ = 0;
  std::string contentType_, body_;
  std::vector<Header> headers_;
  std::vector<std::string> chunks_;
  bool streaming_ = false, ended_ = false, closed_ = false;
  std::function<void()> onClose_;
};

} // namespace llmrt::http
