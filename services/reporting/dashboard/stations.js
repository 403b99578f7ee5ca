/* The stations side by side: a table sorted by any column (click its header; again: the
   other way), from GET /v1/reports/stations. */
"use strict";
var StationsTable = (function () {
  var minutes = function (s) { return s === null || s === undefined ? null : Math.round(s / 6) / 10; };
  var COLUMNS = [
    ["name", "服务站", function (r) { return r.name; }],
    ["requests_received", "受理求助", function (r) { return r.requests_received; }],
    ["cases_opened", "新建个案", function (r) { return r.cases_opened; }],
    ["urgent", "紧急个案", function (r) { return r.cases_by_priority.urgent || 0; }],
    ["resolved", "已办结", function (r) { return (r.cases_by_status.resolved || 0) + (r.cases_by_status.closed || 0); }],
    ["accept_median", "接单中位（分钟）", function (r) { return minutes(r.time_to_accept_seconds.median); }],
    ["accept_p90", "接单P90（分钟）", function (r) { return minutes(r.time_to_accept_seconds.p90); }],
    ["sla_breaches", "超时", function (r) { return r.sla_breaches; }],
    ["programs", "志愿队/组织/活动", function (r) {
      return r.programs.volunteer_teams_formed + r.programs.social_organisations_cultivated + r.programs.activities; }],
    ["open_cases", "在办个案", function (r) { return r.open_cases; }],
    ["age_under_1d", "1天内", function (r) { return r.open_cases_by_age.under_1d; }],
    ["age_1_to_3d", "1–3天", function (r) { return r.open_cases_by_age["1_to_3d"]; }],
    ["age_3_to_7d", "3–7天", function (r) { return r.open_cases_by_age["3_to_7d"]; }],
    ["age_7_to_30d", "7–30天", function (r) { return r.open_cases_by_age["7_to_30d"]; }],
    ["age_over_30d", "30天以上", function (r) { return r.open_cases_by_age.over_30d; }]
  ];
  var state = {rows: [], key: null, descending: false};

  function compare(column, descending) {
    return function (a, b) {
      var x = column[2](a), y = column[2](b);
      if (x === y) { return a.station < b.station ? -1 : 1; }
      if (x === null) { return 1; }   // no value: last, whichever the direction
      if (y === null) { return -1; }
      var order = typeof x === "string" ? x.localeCompare(y, "zh-CN") : x - y;
      return descending ? -order : order;
    };
  }

  function draw(table) {
    var head = table.querySelector("thead tr");
    head.textContent = "";
    COLUMNS.forEach(function (column) {
      var th = document.createElement("th");
      th.textContent = column[1];
      th.setAttribute("data-column", column[0]);
      th.setAttribute("aria-sort", state.key !== column[0] ? "none"
                      : (state.descending ? "descending" : "ascending"));
      th.addEventListener("click", function () {
        state.descending = state.key === column[0] ? !state.descending : column[0] !== "name";
        state.key = column[0];
        draw(table);
      });
      head.appendChild(th);
    });
    var rows = state.rows.slice();
    var sortBy = COLUMNS.filter(function (c) { return c[0] === state.key; })[0];
    if (sortBy) { rows.sort(compare(sortBy, state.descending)); }
    var body = table.querySelector("tbody");
    body.textContent = "";
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-station", r.station);
      COLUMNS.forEach(function (column, n) {
        var td = document.createElement("td");
        var value = column[2](r);
        td.setAttribute("data-column", column[0]);
        if (n > 0) { td.className = "value"; }
        td.textContent = value === null ? "—" : String(value);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  return {
    show: function (table, answer) {
      state.rows = answer.stations;
      draw(table);
    }
  };
}());
