// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/status_page.h"

#include <cstdio>
#include <set>
#include <sstream>

#include "pipeline/service/events_api.h"
#include "sinks/index/query_params.h"
#include "sinks/result_json.h"

namespace ivs::service {
namespace {

constexpr const char* kHead = R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><noscript><meta http-equiv="refresh" content="2"></noscript>
<title>InternVL Stream</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}.running{color:#0a7a2f}.starting{color:#8a6d00}.backoff{color:#b00020}.finished{color:#666}
.error{color:#b00020;font-size:.9em}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.kind{color:#666;font-size:.85em}.labels.clip{margin-top:.3em}
.start{color:#b00020}.end{color:#666}img.snapshot{max-height:72px;max-width:128px}
img.latest{max-height:72px;max-width:128px}img.thumb{max-height:96px;max-width:160px}
form#search{margin:1em 0}form#search input[name=q]{width:24em}#moments{margin-bottom:1.5em}
</style></head><body>
<h1>InternVL Stream</h1>
<p><a href="/api/v1/streams">/api/v1/streams</a> &middot; <a href="/metrics">/metrics</a> &middot; <a href="/health/ready">/health/ready</a></p>
)";

// Every 2 s the live part is fetched again and swapped in once its new pictures are loaded (no
// flicker), so a query being typed and its results stay put while numbers and pictures move on.
constexpr const char* kRefreshScript = R"(<script>
setInterval(async () => {
  try {
    const response = await fetch('/', {cache: 'no-store'});
    const page = new DOMParser().parseFromString(await response.text(), 'text/html');
    const fresh = page.getElementById('live');
    if (!fresh) return;
    const adopted = document.adoptNode(fresh);
    await Promise.all([...adopted.querySelectorAll('img')].map(i => i.decode().catch(() => {})));
    document.getElementById('live').replaceWith(adopted);
  } catch (e) {}
}, 2000);
</script>
)";

std::string format_number(double value, const char* format) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

}  // namespace

std::string escape_html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

// The best three of one result, under its kind: the frame's and the clip's scores differ (a clip
// spans scene changes), so they are never shown as one "latest".
void write_labels(std::ostringstream& html, const char* kind,
                  const std::vector<pipeline::ClassificationRecord>& records) {
  if (records.empty()) return;
  html << "<div class=\"labels " << kind << "\"><span class=\"kind\">" << kind << ":</span>";
  for (size_t i = 0; i < records.size() && i < 3; ++i) {
    html << (i ? "<br>" : " ") << escape_html(records[i].label) << " "
         << format_number(records[i].confidence, "%.2f");
  }
  html << "</div>";
}

// What reaches the decoder now, what the config asked, and the key-frame spacing measured.
void write_decoding(std::ostringstream& html, const StreamStatus& s) {
  html << "<td class=\"decoding\">" << pipeline::decode_frames_name(s.decoding)
       << " <span class=\"kind\">(" << pipeline::decode_frames_name(s.decode_frames) << ")</span>";
  if (s.gop_seconds) html << "<br>GOP&nbsp;" << format_number(*s.gop_seconds, "%.2f&nbsp;s");
  html << "</td>";
}

// Stream time in seconds, or "" when unknown.
std::string stream_time(uint64_t ns) {
  return ns == pipeline::kNoClockTime ? "" : format_number(static_cast<double>(ns) / 1e9, "%.1f s");
}

void write_events(std::ostringstream& html, const std::vector<LoggedEvent>& events) {
  html << "<h2>Recent events</h2>\n<table id=\"events\"><thead><tr><th>Snapshot</th>"
          "<th>Stream</th><th>Rule</th><th>State</th><th>Start</th><th>End</th>"
          "<th class=\"num\">Probability</th></tr></thead><tbody>\n";
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    const pipeline::AlertEvent& e = it->event;
    const std::string state = pipeline::alert_state_name(e.state);
    html << "<tr data-event=\"" << escape_html(e.id) << "\"><td>";
    if (!e.snapshot_path.empty()) {
      html << "<img class=\"snapshot\" loading=\"lazy\" src=\"" << escape_html(snapshot_url(e.id))
           << "\" alt=\"snapshot of " << escape_html(e.id) << "\">";
    }
    html << "</td><td>" << escape_html(e.stream_id) << "</td><td title=\"" << escape_html(e.prompt)
         << "\">" << escape_html(e.rule) << "</td><td class=\"" << state << "\">" << state
         << "</td><td>" << stream_time(e.start_pts) << "</td><td>" << stream_time(e.end_pts)
         << "</td><td class=\"num\">" << format_number(e.probability, "%.2f") << "</td></tr>\n";
  }
  html << "</tbody></table>\n";
}

std::string field(const std::map<std::string, std::string>& query, const std::string& key) {
  const auto found = query.find(key);
  return found == query.end() ? "" : found->second;
}

void write_search_form(std::ostringstream& html, const std::vector<StreamStatus>& streams,
                       const SearchView& search) {
  const std::string k = field(search.query, "k");
  const std::string stream = field(search.query, "stream");
  html << "<form id=\"search\" method=\"get\" action=\"/\"><input id=\"q\" name=\"q\" "
          "type=\"search\" placeholder=\"search every stream: a red van at the gate\" value=\""
       << escape_html(field(search.query, "q")) << "\"> k <input id=\"k\" name=\"k\" "
       << "type=\"number\" min=\"1\" max=\"" << ivs::search::kMaxSearchK << "\" value=\""
       << escape_html(k.empty() ? std::to_string(ivs::search::kDefaultSearchK) : k)
       << "\"> <select id=\"stream\" name=\"stream\"><option value=\"\">every stream</option>";
  std::set<std::string> ids;
  for (const auto& s : streams) ids.insert(s.id);
  for (const auto& [id, unused] : search.latest) ids.insert(id);
  for (const auto& id : ids) {
    html << "<option value=\"" << escape_html(id) << "\"" << (id == stream ? " selected" : "")
         << ">" << escape_html(id) << "</option>";
  }
  html << "</select> <button type=\"submit\">Search</button></form>\n";
}

// The moments of the query, best first, each with its best frame's thumbnail.
void write_search(std::ostringstream& html, const std::vector<StreamStatus>& streams,
                  const SearchView& search) {
  write_search_form(html, streams, search);
  if (field(search.query, "q").empty() && search.outcome.error.empty()) return;
  if (!search.outcome.error.empty()) {
    html << "<p class=\"error\" id=\"search-error\">" << escape_html(search.outcome.error)
         << "</p>\n";
    return;
  }
  html << "<table id=\"moments\"><thead><tr><th>Best frame</th><th>Stream</th><th>Stream "
          "time</th><th>Wall clock (UTC)</th><th class=\"num\">Score</th><th "
          "class=\"num\">Frames</th></tr></thead><tbody>\n";
  for (const auto& m : search.outcome.moments) {
    html << "<tr data-moment=\"" << m.best_id << "\"><td>";
    if (m.has_thumbnail) {
      html << "<img class=\"thumb\" src=\"" << thumbnail_url(m.best_id) << "\" alt=\"frame "
           << m.best_frame_id << " of " << escape_html(m.stream) << "\">";
    }
    html << "</td><td>" << escape_html(m.stream) << "</td><td>"
         << format_number(m.start_seconds, "%.1f") << "&ndash;"
         << format_number(m.end_seconds, "%.1f s") << "</td><td>"
         << sinks::format_timestamp(m.start_wall) << "</td><td class=\"num\">"
         << format_number(m.score, "%.3f") << "</td><td class=\"num\">" << m.frames
         << "</td></tr>\n";
  }
  if (search.outcome.moments.empty())
    html << "<tr><td colspan=\"6\">nothing found (is anything indexed yet?)</td></tr>\n";
  html << "</tbody></table>\n";
}

}  // namespace

std::string render_status_page(const std::vector<StreamStatus>& streams,
                               const std::vector<LoggedEvent>& events, const SearchView& search) {
  std::ostringstream html;
  html << kHead;
  if (search.enabled) write_search(html, streams, search);
  html << "<div id=\"live\">\n<p id=\"summary\">" << streams.size() << " stream"
       << (streams.size() == 1 ? "" : "s") << "</p>\n";
  html << "<table "
          "id=\"streams\"><thead><tr><th>Stream</th><th>State</th><th>Source</th><th>Decoder</th>"
          "<th>Decoding</th><th class=\"num\">FPS</th><th class=\"num\">Frames</th>"
          "<th class=\"num\">Decoded / received</th>"
          "<th class=\"num\">Dropped</th>"
          "<th class=\"num\">Restarts</th>"
       << (search.enabled ? "<th>Latest frame</th>" : "")
       << "<th>Latest labels</th><th>Latest caption</th></tr></thead><tbody>\n";
  for (const auto& s : streams) {
    const std::string state = stream_state_name(s.state);
    html << "<tr data-stream=\"" << escape_html(s.id) << "\"><td>" << escape_html(s.id)
         << "</td><td class=\"" << state << "\">" << state << (s.live ? " (live)" : "");
    if (s.state == StreamState::kBackoff)
      html << "<br>restart in " << format_number(s.restart_in_seconds, "%.1f") << " s";
    if (!s.last_error.empty())
      html << "<div class=\"error\">" << escape_html(s.last_error) << "</div>";
    html << "</td><td>" << escape_html(s.uri) << "</td><td>" << escape_html(s.decoder) << "</td>";
    write_decoding(html, s);
    html << "<td class=\"num\">" << format_number(s.fps, "%.1f") << "</td><td class=\"num\">"
         << s.frames << "</td><td class=\"num\">" << s.frames_decoded << " / " << s.frames_received
         << "</td><td class=\"num\">" << s.frames_dropped << "</td><td class=\"num\">" << s.restarts
         << "</td><td>";
    if (search.enabled) {
      const auto latest = search.latest.find(s.id);
      if (latest != search.latest.end()) {
        html << "<img class=\"latest\" src=\"" << thumbnail_url(latest->second)
             << "\" alt=\"latest frame of " << escape_html(s.id) << "\">";
      }
      html << "</td><td>";
    }
    write_labels(html, "frame", s.latest_labels);
    write_labels(html, "clip", s.latest_clip_labels);
    html << "</td><td>" << escape_html(s.latest_caption) << "</td></tr>\n";
  }
  html << "</tbody></table>\n";
  if (!events.empty()) write_events(html, events);
  html << "</div>\n" << kRefreshScript << "</body></html>\n";
  return html.str();
}

}  // namespace ivs::service
