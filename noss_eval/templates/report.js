"use strict";
// Sort a leaderboard table by the column whose header button is pressed. Each cell's
// data-value is the CSV's own number (or text); empty cells stay last in either direction.
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  heads.forEach(function (th, column) {
    var button = th.querySelector("button");
    if (!button) return;
    button.addEventListener("click", function () {
      var current = th.getAttribute("aria-sort");
      var first = th.dataset.first || "descending";
      var order = current === first ? (first === "ascending" ? "descending" : "ascending") : first;
      var sign = order === "ascending" ? 1 : -1;
      var numeric = th.dataset.kind !== "text";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
        if (x === "" || y === "") return (x === "") - (y === "");
        if (numeric) return sign * (parseFloat(x) - parseFloat(y));
        return sign * x.localeCompare(y);
      });
      rows.forEach(function (row) { body.appendChild(row); });
      heads.forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", order);
      var status = table.parentNode.querySelector(".sort-status");
      if (status) status.textContent = "sorted by " + button.textContent + ", " + order;
    });
  });
});
