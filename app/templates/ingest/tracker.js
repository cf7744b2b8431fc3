{% if not site.enabled -%}
/* Footfall: website tracking is turned off for this site. This script does nothing. */
{%- else -%}
/* Footfall tracking code for {{ site.site_key }}. */
(function (w) {
  if (w.footfall) return;
  var queue = [];
  w.footfall = function () { queue.push(arguments); };
  w.footfall.q = queue;
})(window);
{%- endif %}
