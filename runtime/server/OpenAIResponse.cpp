#include "server/OpenAIResponse.h"
