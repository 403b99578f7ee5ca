/* The dashboard: reads the JSON API with the token the user gives; draws the figures. */
"use strict";
(function () {
  var STATIONS = JSON.parse(document.getElementById("stations").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var loads = 0;
  var STATUSES = [["cases_opened", "新建"], ["cases_accepted", "已接单"], ["cases_resolved", "已办结"],
                  ["cases_closed", "已归档"], ["cases_cancelled", "已撤销"]];
  var CASE_STATUSES = [["received", "已登记"], ["assigned", "已派单"], ["accepted", "已接单"],
                       ["in_progress", "处理中"], ["referred", "已转介"], ["resolved", "已办结"],
                       ["closed", "已归档"], ["cancelled", "已撤销"]];
  var CASE_ROWS = [["requests_received", "受理求助", "件"], ["residents_served", "服务居民", "人"],
                   ["cases_resolved", "办结个案", "个"], ["sla_breaches", "超时", "次"],
                   ["messages_sent", "发送短信", "条"]];
  var PROGRAMS = [["volunteer_teams_formed", "志愿服务队"], ["volunteers_joined", "志愿者加入"],
                  ["social_organisations_cultivated", "社会组织"], ["households_aided", "帮扶困难家庭"],
                  ["activities", "开展活动"], ["trainings", "社工培训"], ["donations", "捐赠笔数"]];

  function claims(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var text = decodeURIComponent(escape(atob(part + "===".slice((part.length + 3) % 4))));
      return JSON.parse(text);
    } catch (e) { return null; }
  }

  function say(text, error) {
    $("status").textContent = text;
    $("status").className = error ? "error" : "";
  }

  function query(extra) {
    var params = new URLSearchParams();
    if ($("station").value) { params.set("station", $("station").value); }
    if ($("from").value) { params.set("from", $("from").value); }
    if ($("to").value) { params.set("to", $("to").value); }
    Object.keys(extra || {}).forEach(function (k) { params.set(k, extra[k]); });
    return params.toString();
  }

  function get(path) {
    return fetch(path, {headers: {"Authorization": "Bearer " + localStorage.getItem("shegong-token"),
                                  "Accept": "application/json"}})
      .then(function (answer) {
        return answer.json().then(function (body) {
          if (!answer.ok) { throw new Error((body.error && body.error.message) || answer.status); }
          return body;
        });
      });
  }

  function row(body, key, label, value, unit) {
    var tr = document.createElement("tr");
    var name = document.createElement("td");
    name.textContent = label;
    var cell = document.createElement("td");
    cell.className = "value";
    cell.setAttribute("data-figure", key);
    cell.textContent = value + (unit ? " " + unit : "");
    tr.appendChild(name);
    tr.appendChild(cell);
    body.appendChild(tr);
  }

  function showSummary(summary) {
    var body = document.querySelector("#summary tbody");
    body.textContent = "";
    summary.table.forEach(function (r) { row(body, r.figure, r.label, r.value, r.unit); });
    CASE_ROWS.forEach(function (r) { row(body, r[0], r[1], summary[r[0]], r[2]); });
    var t = summary.time_to_accept_seconds;
    row(body, "time_to_accept_median", "接单用时中位数",
        t.median === null ? "—" : Math.round(t.median / 60), t.median === null ? "" : "分钟");
    var days = summary.by_day.map(function (d) { return d.day; });
    Charts.lines($("chart-cases"), days, STATUSES.map(function (s) {
      return {key: s[0], name: s[1], values: summary.by_day.map(function (d) { return d[s[0]]; })};
    }), "每日个案");
    Charts.stacked($("chart-status"), days, CASE_STATUSES.map(function (s) {
      return {key: s[0], name: s[1], values: summary.by_day.map(function (d) { return d.cases_by_status[s[0]]; })};
    }), "每日新建个案（按当前状态）");
    Charts.bars($("chart-programs"), PROGRAMS.map(function (p) {
      return {key: p[0], name: p[1], value: summary.programs[p[0]]};
    }), "站点项目");
  }

  function showTimes(accept, resolve) {
    var minutes = function (v) { return v === null ? null : Math.round(v / 6) / 10; };
    Charts.lines($("chart-times"), accept.points.map(function (p) { return p.period; }), [
      {key: "time_to_accept_median", name: "接单", values: accept.points.map(function (p) { return minutes(p.value); })},
      {key: "time_to_resolve_median", name: "办结", values: resolve.points.map(function (p) { return minutes(p.value); })}
    ], "响应时间");
    // a series longer than the API's cap keeps its newest periods: say what was left out
    var cut = [accept, resolve].filter(function (s) { return s.truncated; })[0];
    var note = $("times-cut");
    note.hidden = !cut;
    note.textContent = cut ? "时间跨度过长，只显示 " + cut.first_kept + " 起的 " + cut.points.length +
      " 个周期，更早的数据未显示；请缩短时间段或按周、按月查看。" : "";
  }

  function period() {
    var params = new URLSearchParams();
    if ($("from").value) { params.set("from", $("from").value); }
    if ($("to").value) { params.set("to", $("to").value); }
    return params.toString();
  }

  function refresh() {
    if (!localStorage.getItem("shegong-token")) { return say("请先输入访问令牌。"); }
    say("加载中…");
    var interval = $("interval").value;
    $("csv").href = "/v1/reports/summary?" + query({format: "csv"});
    return Promise.all([
      get("/v1/reports/summary?" + query()),
      get("/v1/reports/timeseries?" + query({metric: "time_to_accept_median", interval: interval})),
      get("/v1/reports/timeseries?" + query({metric: "time_to_resolve_median", interval: interval})),
      get("/v1/reports/stations?" + period())
    ]).then(function (answers) {
      showSummary(answers[0]);
      showTimes(answers[1], answers[2]);
      StationsTable.show($("stations-table"), answers[3]);
      var place = STATIONS.filter(function (s) { return s.id === answers[0].station; })[0];
      say((place ? place.name : "全区") + "：" + (answers[0].from || "开始") + " 至 " + (answers[0].to || "今天"));
      loads += 1;
      document.body.setAttribute("data-loaded", String(loads));  // tests wait on it
    }).catch(function (error) { say("加载失败：" + error.message, true); });
  }

  function applyScope() {
    var token = localStorage.getItem("shegong-token");
    var scope = token && claims(token);
    var select = $("station");
    if (scope && scope.role !== "district_admin" && scope.station) {
      select.value = scope.station;
      select.disabled = true;  // station staff see their own station only
    } else {
      select.disabled = false;
    }
  }

  STATIONS.forEach(function (s) {
    var option = document.createElement("option");
    option.value = s.id;
    option.textContent = s.name;
    $("station").appendChild(option);
  });
  $("login").addEventListener("submit", function (event) {
    event.preventDefault();
    localStorage.setItem("shegong-token", $("token").value.trim());
    $("token").value = "";
    applyScope();
    refresh();
  });
  $("logout").addEventListener("click", function () {
    localStorage.removeItem("shegong-token");
    applyScope();
    say("已退出。");
  });
  $("filters").addEventListener("submit", function (event) {
    event.preventDefault();
    refresh();
  });
  $("csv").addEventListener("click", function (event) {
    event.preventDefault();
    get("/v1/reports/summary?" + query()).then(function () {
      return fetch($("csv").href, {headers: {"Authorization": "Bearer " + localStorage.getItem("shegong-token")}});
    }).then(function (answer) { return answer.blob(); }).then(function (blob) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "summary.csv";
      link.click();
    }).catch(function (error) { say("导出失败：" + error.message, true); });
  });
  applyScope();
  refresh();
}());
