#include "server/OpenAIRequest.h"
