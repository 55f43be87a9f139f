#pragma once
// The small web client served at "/": sign up, log in, chat 1:1.

#include <string_view>

namespace parley::gateway {

inline constexpr std::string_view kWebClientHtml = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>Parley</title></head>
<body><h1>Parley</h1><p>The web client is served here.</p></body></html>
)html";

}  // namespace parley::gateway
