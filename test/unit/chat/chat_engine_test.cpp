// Unit tests of the chat template engine on its own (filled in below).
#include "chat/ChatTemplate.h"

#include <gtest/gtest.h>
