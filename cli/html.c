/* html.c - pages of charts (--html FILE): one self-contained HTML file with inline SVG, no
 * script and no external asset, readable offline. Line charts of series over time, stacked bars
 * of a distribution over time, and a heat map of retention cohorts. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define WIDTH 760
#define HEIGHT 260
#define LEFT 70
#define RIGHT 40
#define TOP 20
#define BOTTOM 40

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
				      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
#define COLOURS (sizeof palette / sizeof *palette)

/* Text as HTML: & < > " escaped. */
static void escaped(FILE *out, const char *text)
{
	for (; text && *text; text++)
		switch (*text) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fputc(*text, out);
		}
}

int html_page(cli *c, const char *path, const char *title, void (*charts)(cli *c, FILE *out))
{
	FILE *out = fopen(path, "w");
	if (!out)
		return complain(c, EXIT_INTERNAL, "cannot write '%s': %s", path, strerror(errno));
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", out);
	escaped(out, title);
	fputs("</title><style>body{font:14px sans-serif;margin:2em;color:#222}"
	      "h1{font-size:20px}h2{font-size:16px;margin-top:2em}svg{background:#fafafa}"
	      ".axis{font-size:11px;fill:#555}.legend{font-size:12px}</style></head><body>\n<h1>",
	      out);
	escaped(out, title);
	fputs("</h1>\n", out);
	charts(c, out);
	fputs("</body></html>\n", out);
	bool failed = ferror(out) != 0;
	if (fclose(out) != 0 || failed)
		return complain(c, EXIT_INTERNAL, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

/* A round top for an axis that reaches `largest`. */
static double axis_top(double largest)
{
	if (largest <= 0)
		return 1;
	double step = pow(10, floor(log10(largest)));
	for (double m = 1; m <= 10; m += m < 2 ? 1 : m < 5 ? 3 : 5)
		if (step * m >= largest)
			return step * m;
	return step * 10;
}

/* The top of a chart's axis for values up to largest: a share's, or a count's (at least 4,
 * so that its four steps are whole numbers). */
static double top_of(double largest, bool percent)
{
	return percent ? fmax(axis_top(largest), 0.01) : fmax(axis_top(largest), 4);
}

/* The largest number of any series. */
static double largest_of(const json_t *series)
{
	double largest = 0;
	size_t i, k;
	json_t *values, *value;
	json_array_foreach(series, i, values)
		json_array_foreach(values, k, value)
			largest = fmax(largest, json_number_value(value));
	return largest;
}

static double x_of(size_t i, size_t count)
{
	return LEFT + (count > 1 ? (double)i * (WIDTH - LEFT - RIGHT) / (double)(count - 1)
				 : (WIDTH - LEFT - RIGHT) / 2.0);
}

static double y_of(double value, double top)
{
	return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top);
}

/* The frame of a chart: its heading and the grid with values up to top. */
static void frame(FILE *out, const char *heading, double top, bool percent, const char *kind)
{
	fputs("<h2>", out);
	escaped(out, heading);
	fprintf(out, "</h2>\n<svg class=\"chart %s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
		     " role=\"img\">\n",
		kind, WIDTH, HEIGHT, WIDTH, HEIGHT);
	for (int k = 0; k <= 4; k++) {
		double value = top * k / 4, y = y_of(value, top);
		char label[40];
		if (percent)
			snprintf(label, sizeof label, "%.0f%%", value * 100);
		else
			show_number((int64_t)llround(value), label, sizeof label);
		fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			     "<text class=\"axis\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			LEFT, y, WIDTH - RIGHT, y, LEFT - 6, y + 4, label);
	}
}

static void x_label(FILE *out, double x, const char *text)
{
	fprintf(out, "<text class=\"axis\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x,
		HEIGHT - BOTTOM + 16);
	escaped(out, text);
	fputs("</text>\n", out);
}

/* A chart over time: its frame and, under it, the dates of at most 12 of its instants. */
static void time_frame(cli *c, FILE *out, const char *heading, const json_t *times, double top,
		       bool percent, const char *kind)
{
	frame(out, heading, top, percent, kind);
	size_t count = json_array_size(times), every = count > 12 ? (count + 11) / 12 : 1;
	for (size_t i = 0; i < count; i += every) {
		char day[24];
		show_date(c, json_integer_value(json_array_get(times, i)), day, sizeof day);
		x_label(out, x_of(i, count), day);
	}
}

static void legend(FILE *out, const json_t *names)
{
	size_t i;
	json_t *name;
	json_array_foreach(names, i, name) {
		fprintf(out, "<rect x=\"%zu\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			     "<text class=\"legend\" x=\"%zu\" y=\"%d\">",
			LEFT + i * 150, HEIGHT - 14, palette[i % COLOURS], LEFT + i * 150 + 14,
			HEIGHT - 5);
		escaped(out, json_string_value(name));
		fputs("</text>\n", out);
	}
}

void html_lines(cli *c, FILE *out, const char *heading, const json_t *times, const json_t *names,
		const json_t *series, bool percent)
{
	double top = top_of(largest_of(series), percent);
	size_t i, k;
	json_t *values, *value;
	time_frame(c, out, heading, times, top, percent, "lines");
	json_array_foreach(series, i, values) {
		fprintf(out, "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"%s\" points=\"",
			palette[i % COLOURS]);
		json_array_foreach(values, k, value)
			fprintf(out, "%s%.1f,%.1f", k ? " " : "", x_of(k, json_array_size(values)),
				y_of(json_number_value(value), top));
		fputs("\"/>\n", out);
	}
	legend(out, names);
	fputs("</svg>\n", out);
}

void html_stacks(cli *c, FILE *out, const char *heading, const json_t *times, const json_t *names,
		 const json_t *series)
{
	size_t count = json_array_size(times), i, k;
	double largest = 0;
	for (k = 0; k < count; k++) {
		double sum = 0;
		json_t *values;
		json_array_foreach(series, i, values)
			sum += json_number_value(json_array_get(values, k));
		largest = fmax(largest, sum);
	}
	double top = top_of(largest, false), slot = (double)(WIDTH - LEFT - RIGHT) / (double)(count + 1);
	time_frame(c, out, heading, times, top, false, "stacks");
	for (k = 0; k < count; k++) {
		double base = 0;
		json_t *values;
		json_array_foreach(series, i, values) {
			double value = json_number_value(json_array_get(values, k));
			if (value <= 0)
				continue;
			fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
				x_of(k, count) - slot * 0.35, y_of(base + value, top), slot * 0.7,
				y_of(base, top) - y_of(base + value, top), palette[i % COLOURS]);
			base += value;
		}
	}
	legend(out, names);
	fputs("</svg>\n", out);
}

void html_bars(FILE *out, const char *heading, const json_t *labels, const json_t *names,
	       const json_t *series)
{
	size_t count = json_array_size(labels), bars = json_array_size(series), i, k;
	double top = top_of(largest_of(series), false);
	double slot = (double)(WIDTH - LEFT - RIGHT) / (double)(count ? count : 1);
	double bar = slot * 0.8 / (double)(bars ? bars : 1);
	json_t *values;
	frame(out, heading, top, false, "bars");
	for (k = 0; k < count; k++) {
		double left = LEFT + slot * (double)k + slot * 0.1;
		json_array_foreach(series, i, values) {
			double v = json_number_value(json_array_get(values, k));
			fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
				     "<title>%.0f</title></rect>\n",
				left + bar * (double)i, y_of(v, top), bar, y_of(0, top) - y_of(v, top),
				palette[i % COLOURS], v);
		}
		x_label(out, left + slot * 0.4, json_string_value(json_array_get(labels, k)));
	}
	legend(out, names);
	fputs("</svg>\n", out);
}

void html_heat(cli *c, FILE *out, const char *heading, const json_t *cohorts)
{
	size_t rows = json_array_size(cohorts), columns = 0, i, k;
	json_t *cohort, *share;
	json_array_foreach(cohorts, i, cohort)
		if (json_array_size(json_object_get(cohort, "share")) > columns)
			columns = json_array_size(json_object_get(cohort, "share"));
	int cell = 40, height = TOP + (int)rows * 22 + 30, width = LEFT + 30 + (int)columns * cell;
	fputs("<h2>", out);
	escaped(out, heading);
	fprintf(out, "</h2>\n<svg class=\"chart heat\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
		     " role=\"img\">\n",
		width, height, width, height);
	for (k = 0; k < columns; k++)
		fprintf(out, "<text class=\"axis\" x=\"%zu\" y=\"%d\" text-anchor=\"middle\">+%zu</text>\n",
			LEFT + 30 + k * (size_t)cell + (size_t)cell / 2, TOP, k);
	json_array_foreach(cohorts, i, cohort) {
		char day[24];
		show_date(c, get_int(cohort, "cohort"), day, sizeof day);
		int y = TOP + 8 + (int)i * 22;
		fprintf(out, "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n",
			LEFT + 26, y + 15, day);
		json_array_foreach(json_object_get(cohort, "share"), k, share) {
			double value = json_number_value(share);
			fprintf(out, "<rect x=\"%zu\" y=\"%d\" width=\"%d\" height=\"20\""
				     " fill=\"rgb(%d,%d,%d)\"><title>%.0f%%</title></rect>"
				     "<text class=\"axis\" x=\"%zu\" y=\"%d\" text-anchor=\"middle\">%.0f%%</text>\n",
				LEFT + 30 + k * (size_t)cell, y, cell - 2, (int)(255 - 200 * value),
				(int)(255 - 120 * value), 255, value * 100,
				LEFT + 30 + k * (size_t)cell + (size_t)cell / 2, y + 14, value * 100);
		}
	}
	fputs("</svg>\n", out);
}
