/* SPDX-License-Identifier: MIT */
/* Unit tests for src/portald/template.c: the Mustache subset the portal's
 * pages are written in. Escaping by default, raw values, sections over lists,
 * objects and flags, inverted sections, lookups through the context stack,
 * dotted names, "list.0", comments, and the parse errors (with their offsets);
 * and every template under data/templates parses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

/* Parses tpl (which must be valid), renders it with json (NULL: no data)
 * and returns the output, malloc'ed. */
static char *render(const char *tpl, const char *json) {
        struct template *t = NULL;
        struct json_object *data = NULL;
        struct buf out = { 0 };
        char *error = NULL, *ret;
        int r = template_parse(tpl, strlen(tpl), &t, &error);

        if (r < 0)
                fail_msg("template_parse(\"%s\") = %d (%s)", tpl, r, error ? error : "no message");
        assert_null(error);
        if (json) {
                data = json_tokener_parse(json);
                if (!data && strcmp(json, "null") != 0)
                        fail_msg("bad test JSON: %s", json);
        }
        template_render(t, data, &out);
        assert_false(out.failed);
        ret = strdup(out.data ? out.data : "");
        assert_non_null(ret);
        assert_int_equal(strlen(ret), out.len);
        buf_done(&out);
        json_object_put(data);
        template_free(t);
        return ret;
}

#define assert_renders(tpl, json, expected)                                                                    \
        do {                                                                                                   \
                char *_got = render(tpl, json);                                                                \
                if (strcmp(_got, expected) != 0)                                                               \
                        fail_msg("template \"%s\" with %s:\n  expected \"%s\"\n  got      \"%s\"", tpl, json, \
                                 expected, _got);                                                              \
                free(_got);                                                                                    \
        } while (0)

/* tpl must fail to parse with -EINVAL and a message containing what. */
static void assert_parse_error(const char *tpl, const char *what) {
        struct template *t = (struct template *) 0x1;
        char *error = NULL;
        int r = template_parse(tpl, strlen(tpl), &t, &error);

        if (r != -EINVAL)
                fail_msg("template_parse(\"%s\") = %d, expected -EINVAL", tpl, r);
        if (!error || !strstr(error, what))
                fail_msg("template_parse(\"%s\"): message \"%s\" lacks \"%s\"", tpl, error ? error : "(none)", what);
        assert_ptr_equal(t, (struct template *) 0x1); /* *ret untouched on failure */
        free(error);
}

/* ---- text and values ---- */

static void test_text(void **state) {
        assert_renders("", "{}", "");
        assert_renders("plain <b>HTML</b> & text, { single } braces }}", "{}", "plain <b>HTML</b> & text, { single } braces }}");
        assert_renders("a\nb\n", NULL, "a\nb\n");
        /* Multi-byte text passes through untouched. */
        assert_renders("\xc3\xa9t\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80", "{}", "\xc3\xa9t\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80");
}

static void test_values(void **state) {
        assert_renders("Hello {{name}}!", "{\"name\":\"Nick\"}", "Hello Nick!");
        assert_renders("{{ name }}|{{name   }}", "{\"name\":\"x\"}", "x|x");
        assert_renders("{{i}} {{d}} {{t}} {{f}}", "{\"i\":42,\"d\":87.5,\"t\":true,\"f\":false}", "42 87.5 true false");
        /* Missing and null render nothing. */
        assert_renders("[{{missing}}][{{n}}]", "{\"n\":null}", "[][]");
        assert_renders("[{{x}}]", NULL, "[]");
        assert_renders("{{a}}{{b}}{{a}}", "{\"a\":\"1\",\"b\":\"2\"}", "121");
        assert_renders("{{s}}", "{\"s\":\"\xc3\xa9\xe2\x98\x83\"}", "\xc3\xa9\xe2\x98\x83");
}

/* ---- escaping ---- */

static void test_escaped_by_default(void **state) {
        assert_renders("<p>{{v}}</p>", "{\"v\":\"<script>alert(1)</script>\"}",
                       "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
        assert_renders("<input value=\"{{v}}\">", "{\"v\":\"\\\" onfocus=\\\"alert(1)\"}",
                       "<input value=\"&quot; onfocus=&quot;alert(1)\">");
        assert_renders("<a title='{{v}}'>", "{\"v\":\"it's\"}", "<a title='it&#39;s'>");
        assert_renders("{{v}}", "{\"v\":\"Tom & Jerry &amp; co\"}", "Tom &amp; Jerry &amp;amp; co");
        assert_renders("{{v}}", "{\"v\":\"&<>\\\"'\"}", "&amp;&lt;&gt;&quot;&#39;");
        /* Inside sections and through dotted names as well. */
        assert_renders("{{#l}}{{.}}{{/l}}", "{\"l\":[\"<a>\",\"&\"]}", "&lt;a&gt;&amp;");
        assert_renders("{{o.v}}", "{\"o\":{\"v\":\"<i>\"}}", "&lt;i&gt;");
        assert_renders("{{#o}}{{v}}{{/o}}", "{\"o\":{\"v\":\"<i>\"}}", "&lt;i&gt;");
        /* A whole object or array is rendered as JSON, escaped too. */
        assert_renders("{{o}}", "{\"o\":{\"k\":\"<\"}}", "{&quot;k&quot;:&quot;&lt;&quot;}");
}

static void test_raw(void **state) {
        assert_renders("{{{html}}}", "{\"html\":\"<b>bold</b> & 'q'\"}", "<b>bold</b> & 'q'");
        assert_renders("{{{ html }}}|{{html}}", "{\"html\":\"<b>\"}", "<b>|&lt;b&gt;");
        assert_renders("[{{{missing}}}]", "{}", "[]");
}

static void test_html_escape(void **state) {
        struct buf out = { 0 };
        const char in[] = "a<b>c&d\"e'f\xc3\xa9";

        html_escape(&out, in, strlen(in));
        assert_string_equal(out.data, "a&lt;b&gt;c&amp;d&quot;e&#39;f\xc3\xa9");
        /* Only len bytes, and appending to what is there. */
        html_escape(&out, "<<<", 1);
        assert_string_equal(out.data, "a&lt;b&gt;c&amp;d&quot;e&#39;f\xc3\xa9&lt;");
        html_escape(&out, "", 0);
        assert_int_equal(out.len, strlen(out.data));
        buf_done(&out);
}

/* ---- sections ---- */

static void test_section_list(void **state) {
        assert_renders("{{#items}}[{{name}}]{{/items}}", "{\"items\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}",
                       "[a][b][c]");
        assert_renders("{{#items}}<{{.}}>{{/items}}", "{\"items\":[1,\"two\",3.5]}", "<1><two><3.5>");
        assert_renders("before{{#items}}x{{/items}}after", "{\"items\":[]}", "beforeafter");
        /* Nested lists. */
        assert_renders("{{#rows}}({{#cells}}{{.}}{{/cells}}){{/rows}}",
                       "{\"rows\":[{\"cells\":[1,2]},{\"cells\":[]},{\"cells\":[3]}]}", "(12)()(3)");
}

static void test_section_flags_and_objects(void **state) {
        assert_renders("{{#ok}}yes{{/ok}}", "{\"ok\":true}", "yes");
        assert_renders("{{#ok}}yes{{/ok}}", "{\"ok\":false}", "");
        assert_renders("{{#ok}}yes{{/ok}}", "{\"ok\":null}", "");
        assert_renders("{{#ok}}yes{{/ok}}", "{}", "");
        assert_renders("{{#s}}<{{.}}>{{/s}}", "{\"s\":\"text\"}", "<text>");
        assert_renders("{{#s}}<{{.}}>{{/s}}", "{\"s\":\"\"}", "");
        assert_renders("{{#n}}[{{.}}]{{/n}}", "{\"n\":7}", "[7]");
        /* An object becomes the context. */
        assert_renders("{{#student}}{{FirstName}} {{LastName}}{{/student}}",
                       "{\"student\":{\"FirstName\":\"Ada\",\"LastName\":\"Lovelace\"}}", "Ada Lovelace");
        /* The layout's selected-option idiom. */
        assert_renders("{{#types}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/types}}",
                       "{\"types\":[{\"name\":\"Quiz\",\"selected\":false},{\"name\":\"Exam\",\"selected\":true}]}",
                       "<option>Quiz</option><option selected>Exam</option>");
}

static void test_inverted(void **state) {
        assert_renders("{{^x}}none{{/x}}", "{}", "none");
        assert_renders("{{^x}}none{{/x}}", "{\"x\":null}", "none");
        assert_renders("{{^x}}none{{/x}}", "{\"x\":false}", "none");
        assert_renders("{{^x}}none{{/x}}", "{\"x\":[]}", "none");
        assert_renders("{{^x}}none{{/x}}", "{\"x\":\"\"}", "none");
        assert_renders("{{^x}}none{{/x}}", "{\"x\":true}", "");
        assert_renders("{{^x}}none{{/x}}", "{\"x\":[1]}", "");
        assert_renders("{{^x}}none{{/x}}", "{\"x\":\"a\"}", "");
        assert_renders("{{^x}}none{{/x}}", "{\"x\":{}}", "");
        /* The context does not change inside an inverted section. */
        assert_renders("{{^x}}{{y}}{{/x}}", "{\"y\":\"outer\"}", "outer");
        /* Both forms together, as the pages use them. */
        assert_renders("{{^g}}No grades yet.{{/g}}{{#g}}[{{.}}]{{/g}}", "{\"g\":[]}", "No grades yet.");
        assert_renders("{{^g}}No grades yet.{{/g}}{{#g}}[{{.}}]{{/g}}", "{\"g\":[90,80]}", "[90][80]");
}

static void test_context_stack(void **state) {
        /* Names not in the element are looked up outwards. */
        assert_renders("{{#items}}{{name}}:{{csrf}} {{/items}}",
                       "{\"csrf\":\"tok\",\"items\":[{\"name\":\"a\"},{\"name\":\"b\"}]}", "a:tok b:tok ");
        /* The innermost wins. */
        assert_renders("{{#o}}{{v}}{{/o}}{{v}}", "{\"v\":\"outer\",\"o\":{\"v\":\"inner\"}}", "innerouter");
        /* Three levels deep. */
        assert_renders("{{#a}}{{#b}}{{#c}}{{x}}{{y}}{{z}}{{/c}}{{/b}}{{/a}}",
                       "{\"x\":1,\"a\":{\"y\":2,\"b\":{\"c\":{\"z\":3}}}}", "123");
        /* A null in the element still shadows nothing: it is found, and empty. */
        assert_renders("{{#items}}[{{v}}]{{/items}}", "{\"v\":\"outer\",\"items\":[{\"v\":null},{}]}", "[][outer]");
}

static void test_dotted_names(void **state) {
        assert_renders("{{a.b.c}}", "{\"a\":{\"b\":{\"c\":\"deep\"}}}", "deep");
        assert_renders("[{{a.x}}][{{x.y}}][{{a.b.c.d}}]", "{\"a\":{\"b\":{\"c\":\"deep\"}}}", "[][][]");
        assert_renders("{{#a.b}}{{c}}{{/a.b}}", "{\"a\":{\"b\":{\"c\":\"in\"}}}", "in");
        /* Dotted names are looked up outwards too. */
        assert_renders("{{#items}}{{form.Title}}{{/items}}", "{\"form\":{\"Title\":\"T\"},\"items\":[1]}", "T");
        /* A name of 128 bytes or more is simply not found. */
        char tpl[300], name[200];
        memset(name, 'k', 150);
        name[150] = '\0';
        snprintf(tpl, sizeof(tpl), "[{{%s.x}}]", name);
        assert_renders(tpl, "{}", "[]");
}

static void test_list_index(void **state) {
        assert_renders("{{#list.0}}has{{/list.0}}", "{\"list\":[]}", "");
        assert_renders("{{#list.0}}has{{/list.0}}", "{\"list\":[{\"a\":1}]}", "has");
        assert_renders("{{^list.0}}empty{{/list.0}}", "{\"list\":[]}", "empty");
        assert_renders("{{list.1.name}}", "{\"list\":[{\"name\":\"a\"},{\"name\":\"b\"}]}", "b");
        assert_renders("[{{list.5}}][{{list.0}}]", "{\"list\":[\"x\"]}", "[][x]");
        /* A table rendered only when the list has an element, as the pages do. */
        assert_renders("{{#rows.0}}<table>{{#rows}}<tr>{{.}}</tr>{{/rows}}</table>{{/rows.0}}", "{\"rows\":[1,2]}",
                       "<table><tr>1</tr><tr>2</tr></table>");
        assert_renders("{{#rows.0}}<table>{{#rows}}<tr>{{.}}</tr>{{/rows}}</table>{{/rows.0}}", "{\"rows\":[]}", "");
        /* Indexes only apply to arrays. */
        assert_renders("[{{o.0}}]", "{\"o\":{\"0\":\"key zero\"}}", "[key zero]");
}

static void test_dot(void **state) {
        assert_renders("{{.}}", "\"top\"", "top");
        assert_renders("{{#l}}{{.}},{{/l}}", "{\"l\":[\"a\",\"<b>\"]}", "a,&lt;b&gt;,");
        assert_renders("{{#l}}{{{.}}},{{/l}}", "{\"l\":[\"<b>\"]}", "<b>,");
}

static void test_comments(void **state) {
        assert_renders("a{{! a comment }}b", "{}", "ab");
        assert_renders("{{!}}x{{! {{name}} is not rendered here }}", "{\"name\":\"n\"}", "x is not rendered here }}");
        assert_renders("{{! multi\nline }}z", "{}", "z");
}

/* ---- parse errors ---- */

static void test_parse_errors(void **state) {
        assert_parse_error("{{", "unclosed tag at byte 0");
        assert_parse_error("ab{{name", "unclosed tag at byte 2");
        assert_parse_error("ab{{name}", "unclosed tag at byte 2");
        assert_parse_error("{{{raw}}", "unclosed tag at byte 0");
        assert_parse_error("x{{}}", "empty tag at byte 1");
        assert_parse_error("x{{   }}", "empty tag at byte 1");
        assert_parse_error("{{{ }}}", "empty tag at byte 0");
        assert_parse_error("{{#}}x{{/}}", "empty section name at byte 0");
        assert_parse_error("{{^ }}x{{/}}", "empty section name at byte 0");
        assert_parse_error("text{{/a}}", "closing tag without its opening tag at byte 4");
        assert_parse_error("{{#a}}x{{/b}}", "closing tag without its opening tag at byte 7");
        assert_parse_error("{{#a}}{{#b}}x{{/a}}{{/b}}", "closing tag without its opening tag");
        assert_parse_error("{{#a}}never closed", "section not closed");
        assert_parse_error("{{^a}}never closed", "section not closed");
        assert_parse_error("{{#a}}{{#b}}{{/b}}", "section not closed");
        /* The error pointer may be NULL. */
        struct template *t = NULL;
        assert_int_equal(template_parse("{{", 2, &t, NULL), -EINVAL);
        assert_null(t);
}

static void test_parse_ok_edge_cases(void **state) {
        /* Sections closed with spaces, and the same name nested. */
        assert_renders("{{# a }}x{{/ a }}", "{\"a\":true}", "x");
        assert_renders("{{#a}}{{#a}}x{{/a}}{{/a}}", "{\"a\":true}", "x");
        /* Text around everything is kept byte for byte. */
        assert_renders(" {{#a}} {{b}} {{/a}} ", "{\"a\":true,\"b\":\"B\"}", "  B  ");
        /* Only len bytes are parsed. */
        struct template *t = NULL;
        char *error = NULL;
        struct buf out = { 0 };
        assert_int_equal(template_parse("ok{{broken", 2, &t, &error), 0);
        template_render(t, NULL, &out);
        assert_string_equal(out.data, "ok");
        buf_done(&out);
        template_free(t);
        template_free(NULL);
}

static void test_render_twice(void **state) {
        struct template *t = NULL;
        struct buf a = { 0 }, b = { 0 };
        struct json_object *d1 = json_tokener_parse("{\"l\":[1,2,3],\"x\":\"<\"}");
        struct json_object *d2 = json_tokener_parse("{\"l\":[],\"x\":\">\"}");
        const char *tpl = "{{#l}}{{.}}{{/l}}{{^l}}-{{/l}}{{x}}";

        assert_int_equal(template_parse(tpl, strlen(tpl), &t, NULL), 0);
        template_render(t, d1, &a);
        template_render(t, d2, &b);
        assert_string_equal(a.data, "123&lt;");
        assert_string_equal(b.data, "-&gt;");
        /* Appends to what the buffer holds. */
        template_render(t, d1, &b);
        assert_string_equal(b.data, "-&gt;123&lt;");
        buf_done(&a);
        buf_done(&b);
        json_object_put(d1);
        json_object_put(d2);
        template_free(t);
}

/* ---- the portal's own templates ---- */

static const char *srcdir(void) {
        const char *d = getenv("GRADES_SRCDIR");
        return d && *d ? d : ".";
}

static struct template *load_view(const char *name) {
        struct template *t = NULL;
        char path[4096], *error = NULL;
        int r;

        snprintf(path, sizeof(path), "%s/data/templates/%s", srcdir(), name);
        r = template_load(path, &t, &error);
        if (r < 0)
                fail_msg("template_load(%s) = %d (%s)", path, r, error ? error : "no message");
        return t;
}

static void test_data_templates_parse(void **state) {
        static const char *const names[] = { "layout.html", "students.html", "student.html", "status.html",
                                             "error.html" };

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                template_free(load_view(names[i]));
}

static void test_template_load_missing(void **state) {
        struct template *t = NULL;
        char *error = (char *) "untouched";

        assert_int_equal(template_load("/nonexistent/dir/x.html", &t, &error), -ENOENT);
        assert_null(error);
        assert_null(t);
}

static char *render_view(const char *name, const char *json) {
        struct template *t = load_view(name);
        struct json_object *data = json_tokener_parse(json);
        struct buf out = { 0 };
        char *ret;

        assert_non_null(data);
        template_render(t, data, &out);
        ret = strdup(out.data ? out.data : "");
        buf_done(&out);
        json_object_put(data);
        template_free(t);
        return ret;
}

static void test_layout_escapes_title_not_body(void **state) {
        char *html = render_view("layout.html", "{\"title\":\"<script>x</script>\",\"body\":\"<p>made by the portal</p>\"}");

        assert_non_null(strstr(html, "<title>&lt;script&gt;x&lt;/script&gt; \xc2\xb7 grades</title>"));
        assert_non_null(strstr(html, "<h1>&lt;script&gt;x&lt;/script&gt;</h1>"));
        assert_non_null(strstr(html, "<p>made by the portal</p>"));
        assert_null(strstr(html, "<script>"));
        free(html);
}

static void test_student_view_escapes_everything(void **state) {
        char *html = render_view(
                "student.html",
                "{\"csrf\":\"0123456789abcdef0123456789abcdef\",\"error\":\"<b>bad</b>\","
                "\"student\":{\"ID\":7,\"FirstName\":\"<script>alert(1)</script>\",\"LastName\":\"O'Neil\","
                "\"AverageText\":\"50.0\",\"Grades\":[{\"Title\":\"<img src=x onerror=alert(1)>\",\"Type\":\"Quiz\","
                "\"Score\":50}]},"
                "\"form\":{\"Title\":\"\\\"><script>\",\"Score\":\"x\\\"y\",\"types\":[{\"name\":\"Quiz\","
                "\"selected\":true}]}}");

        assert_null(strstr(html, "<script>"));
        assert_null(strstr(html, "<img"));
        assert_null(strstr(html, "<b>bad"));
        assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Neil"));
        assert_non_null(strstr(html, "value=\"&quot;&gt;&lt;script&gt;\""));
        assert_non_null(strstr(html, "value=\"x&quot;y\""));
        assert_non_null(strstr(html, "action=\"/students/7/grades\""));
        assert_non_null(strstr(html, "name=\"csrf\" value=\"0123456789abcdef0123456789abcdef\""));
        assert_non_null(strstr(html, "<option selected>Quiz</option>"));
        assert_non_null(strstr(html, "role=\"alert\">&lt;b&gt;bad&lt;/b&gt;</p>"));
        free(html);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_text),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_escaped_by_default),
                cmocka_unit_test(test_raw),
                cmocka_unit_test(test_html_escape),
                cmocka_unit_test(test_section_list),
                cmocka_unit_test(test_section_flags_and_objects),
                cmocka_unit_test(test_inverted),
                cmocka_unit_test(test_context_stack),
                cmocka_unit_test(test_dotted_names),
                cmocka_unit_test(test_list_index),
                cmocka_unit_test(test_dot),
                cmocka_unit_test(test_comments),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_parse_ok_edge_cases),
                cmocka_unit_test(test_render_twice),
                cmocka_unit_test(test_data_templates_parse),
                cmocka_unit_test(test_template_load_missing),
                cmocka_unit_test(test_layout_escapes_title_not_body),
                cmocka_unit_test(test_student_view_escapes_everything),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
