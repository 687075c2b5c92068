/* test_report.c: `o2o report` (run/report.h) on synthetic run folders: two methods (sac-sim,
 * full, with offline as full's pretrain), two seeds, one failed job, no gap.json. summary.csv
 * holds the exact means, stds, bests and warm-start dips; report.html the table rows, the
 * escaped error text, the command, and a base64 PNG that decodes to a PNG of the asked size;
 * a partial run names its missing and running jobs; bad input (no folder, an empty folder, a
 * malformed metrics.csv or gap.json) is an error naming the file and the line. A simulator
 * fault in a job's log.txt is counted and listed; without its offline job a warm-started job
 * compares with its own step-0 evaluation, and the dip is read once updates began. A folder of
 * the offline benchmark (train-offline runs, no experiment.ini) gets its own summary.csv:
 * per dataset and algorithm the exact final and best means, stds and D4RL scores. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/report.h"
#include "run/train.h"

static char dir[256];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/o2o_test_report_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(report, .init = setup, .fini = teardown, .timeout = 60);

static void put(const char *rel, const char *text) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  for (char *s = p + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
    *s = 0;
    mkdir(p, 0755);
    *s = '/';
  }
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f, "%s", p);
  fputs(text, f);
  fclose(f);
}

static char *slurp(const char *rel) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  FILE *f = fopen(p, "rb");
  cr_assert_not_null(f, "%s was not written", p);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  b[n] = 0;
  fclose(f);
  return b;
}

#define OFF_HDR                                                                                    \
  "step,wall_s,eval_return_mean,eval_return_std,eval_return_min,eval_return_max,"                  \
  "eval_episodes,d4rl_score,updates_per_s\n"
#define ON_HDR "step,wall_s,eval_return_mean,eval_return_std,eval_episodes,eval_restarted\n"

/* sac-sim and full (+ offline, the pretrain), seeds 1 and 2; sac-sim/seed2 failed; K = 1000. */
static void make_run(const char *seeds) {
  char ini[512];
  snprintf(
      ini, sizeof ini,
      "[experiment]\nname = synthetic\ndescription = synthetic <run>\nscenario = pendulum-gear\n"
      "dataset = pendulum-medium\nmethods = sac-sim, full\nseeds = %s\neval_every = 500\n"
      "eval_episodes = 5\n[offline]\nalgo = iql\nsteps = 1000\n[warmstart]\nsteps = 1000\n"
      "[online]\nsteps = 2500\n",
      seeds);
  put("experiment.ini", ini);
  /* as o2o run writes it: a time stamp first; its copy of a job's pool fault is not listed
   * twice (the job's log.txt has it) */
  put("run.log", "2026-12-02T00:01:00Z command: o2o run synthetic.ini --seeds 1,2\n"
                 "2026-12-02T00:01:01Z start full/seed1\n"
                 "2026-12-02T00:01:02Z full/seed2: o2o-sim died, restarted by the pool\n"
                 "2026-12-02T00:01:03Z full/seed2: simulator fault, recovered: o2o pool: fault 1: "
                 "o2o-sim #0 died (signal 9); restarted it as pid 42\n"
                 "2026-12-02T00:09:00Z synthetic: 6 of 6 jobs DONE, 0 FAILED, in 480 s\n");
  put("offline/seed1/metrics.csv",
      OFF_HDR "500,1,100,5,90,110,5,,50\n1000,2,200,5,190,210,5,,50\n");
  put("offline/seed1/DONE", "{\"method\": \"offline\", \"seed\": 1, \"wall_s\": 2, "
                            "\"dataset_return_mean\": 120}\n");
  put("offline/seed2/metrics.csv", OFF_HDR "500,1,150,5,0,0,5,,50\n1000,2,300,5,0,0,5,,50\n");
  put("offline/seed2/DONE", "{\"wall_s\": 3, \"dataset_return_mean\": 120}\n");
  /* full: the warm-up ends at 1000; the first evaluation after it is at 1500 */
  put("full/seed1/config.json", "{\"algorithm\": \"h2o\", \"task\": \"hopper\"}\n");
  put("full/seed1/metrics.csv", ON_HDR "500,1,190,1,5,0\n1000,2,200,1,5,0\n1500,3,180,1,5,0\n"
                                       "2000,4,260,1,5,0\n2500,5,250,1,5,0\n");
  put("full/seed1/DONE", "{\"wall_s\": 10.5, \"init_from\": \"offline/seed1/final.safetensors\", "
                         "\"warmup_steps\": 1000}\n");
  put("full/seed2/metrics.csv", ON_HDR "500,1,290,1,5,0\n1000,2,300,1,5,0\n1500,3,330,1,5,1\n"
                                       "2000,4,310,1,5,0\n2500,5,350,1,5,0\n");
  put("full/seed2/log.txt",
      "[h2o] step 1000\no2o pool: fault 1: o2o-sim #0 died (signal 9); "
      "restarted it as pid 42 in 30 ms; envs 0-0 were reset\n[h2o] step 1500\n");
  put("full/seed2/DONE", "{\"wall_s\": 20, \"warmup_steps\": 1000}\n");
  /* o2o run's measure of each h2o job's discriminators (o2o gap --checkpoint) */
  put("full/seed1/gap.json", "{\"spearman\": 0.3, \"disc_accuracy\": 0.6}\n");
  put("full/seed2/gap.json", "{\"spearman\": 0.5, \"disc_accuracy\": 0.8}\n");
  put("sac-sim/seed1/metrics.csv", ON_HDR "500,1,10,1,5,0\n1000,2,40,1,5,0\n1500,3,30,1,5,0\n"
                                          "2000,4,70,1,5,0\n2500,5,60,1,5,0\n");
  put("sac-sim/seed1/DONE", "{\"wall_s\": 7}\n");
  put("sac-sim/seed2/metrics.csv", ON_HDR "500,5,20,1,5,0\n1000,10,30,1,5,0\n");
  put("sac-sim/seed2/FAILED", "{\"error\": \"o2o-sim <pid 7> died & the pool gave up\"}\n");
}

/* hopper's D4RL score of a return, as summary.csv prints it */
static const char *sc(double ret) {
  static char buf[8][32];
  static int k;
  double v;
  cr_assert(o2o_train_d4rl_score("hopper", ret, &v));
  char *b = buf[k++ % 8];
  snprintf(b, 32, "%.3f", v);
  return b;
}

static int has_line(const char *text, const char *line) {
  char want[4096];
  snprintf(want, sizeof want, "\n%s\n", line);
  return strstr(text, want) != NULL;
}

static void dump_on_fail(const char *what, const char *text, const char *needle) {
  if (!strstr(text, needle)) cr_log_error("%s lacks <%s>; it is:\n%s", what, needle, text);
  cr_assert_not_null(strstr(text, needle));
}

Test(report, summary_csv_numbers_html_rows_and_the_embedded_png) {
  make_run("1-2"); /* o2o run writes ranges */
  o2o_report_options o;
  o2o_report_options_default(&o);
  o.width = 1000, o.height = 600;
  char jpath[600];
  snprintf(jpath, sizeof jpath, "%s/summary.json", dir);
  o.json = fopen(jpath, "w");
  char err[1024] = "";
  cr_assert_eq(o2o_report_write(dir, &o, err, sizeof err), 0, "%s", err);
  fclose(o.json);

  char *csv = slurp("summary.csv");
  /* full/seed1's config.json names the task (hopper): every return gets its D4RL score */
  char l[6][512];
  snprintf(l[0], sizeof l[0],
           "full,all,done,2,0,0,0,,,300.0000,50.0000,305.0000,45.0000,%s,%s,250.0000,255.0000,"
           "1.0200,1,1,30.5,280.0000,50.0000,0.4000,0.1000,0.7000",
           sc(300), sc(305));
  snprintf(l[1], sizeof l[1],
           "offline,all,done,2,0,0,0,,,250.0000,50.0000,250.0000,50.0000,%s,%s,,,,0,0,5.0,"
           "187.5000,37.5000,,,",
           sc(250), sc(250));
  snprintf(l[2], sizeof l[2],
           "offline,1,done,,,,,2,1000,200.0000,,200.0000,,%s,%s,,,,0,0,2.0,150.0000,,,,", sc(200),
           sc(200));
  snprintf(l[3], sizeof l[3],
           "sac-sim,1,done,,,,,5,2500,60.0000,,70.0000,,%s,%s,,,,0,0,7.0,53.3333,,,,", sc(60),
           sc(70));
  snprintf(l[4], sizeof l[4],
           "sac-sim,2,failed,,,,,2,1000,30.0000,,30.0000,,%s,%s,,,,0,0,10.0,25.0000,,,,", sc(30),
           sc(30));
  snprintf(l[5], sizeof l[5],
           "sac-sim,all,partial,1,1,0,0,,,60.0000,0.0000,70.0000,0.0000,%s,%s,,,,0,0,17.0,"
           "53.3333,0.0000,,,",
           sc(60), sc(70));
  const char *lines[] = {l[0], l[1], l[2], l[3], l[4], l[5]};
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
    cr_assert(has_line(csv, lines[i]), "summary.csv lacks\n%s\nit is:\n%s", lines[i], csv);
  /* per-seed dips: 180 / 200 and 330 / 300 (seed 2 with its restarted evaluation) */
  cr_assert(strstr(csv, "\nfull,1,done,,,,,5,2500,250.0000,,260.0000,,"), "%s", csv);
  /* ... and per seed: the mean of the last 3 evaluations, the gap Spearman and accuracy */
  cr_assert(strstr(csv, ",200.0000,180.0000,0.9000,0,0,10.5,230.0000,,0.3000,,0.6000\n"), "%s",
            csv);
  cr_assert(strstr(csv, ",300.0000,330.0000,1.1000,1,1,20.0,330.0000,,0.5000,,0.8000\n"), "%s",
            csv);
  /* methods in the report's order: offline, sac-sim, full */
  cr_assert(strstr(csv, "\noffline,") < strstr(csv, "\nsac-sim,") &&
            strstr(csv, "\nsac-sim,") < strstr(csv, "\nfull,"));
  free(csv);

  char *html = slurp("report.html");
  dump_on_fail("report.html", html,
               "<tr><td class=l>full</td><td>2 / 0 / 0 / 0</td><td>300.0 &plusmn; 50.0</td>"
               "<td>280.0 &plusmn; 50.0</td><td>305.0 &plusmn; 45.0</td>");
  char row[256];
  snprintf(row, sizeof row,
           "<td>%.1f</td><td>%.1f</td><td>1.020</td><td>0.400 &plusmn; 0.100 (2)</td><td>1</td>"
           "<td>1</td><td>30</td></tr>",
           atof(sc(300)), atof(sc(305)));
  dump_on_fail("report.html", html, row);
  dump_on_fail("report.html", html, "<td>0.900</td>");
  dump_on_fail("report.html", html, "<td>1.020</td>");
  dump_on_fail("report.html", html, "sac-sim/seed2</td>");
  dump_on_fail("report.html", html, "o2o-sim &lt;pid 7&gt; died &amp; the pool gave up");
  dump_on_fail("report.html", html, "synthetic &lt;run&gt;");
  dump_on_fail("report.html", html, "<h1>o2o run report: synthetic</h1>"); /* not the folder's */
  dump_on_fail("report.html", html, "No gap.json");
  dump_on_fail("report.html", html, "o2o-sim died, restarted by the pool");
  dump_on_fail("report.html", html, "\nfull/seed2: o2o pool: fault 1: o2o-sim #0 died (signal 9)");
  dump_on_fail("report.html", html, "<pre>o2o run synthetic.ini --seeds 1,2</pre>");
  cr_assert_null(strstr(html, "0 FAILED"), "a run with no failure is no event");
  const char *fault = strstr(html, "o2o pool: fault 1");
  cr_assert(fault && !strstr(fault + 1, "o2o pool: fault 1"), "the fault is listed once");
  dump_on_fail("report.html", html, "[warmstart]\nsteps = 1000");
  cr_assert_null(strstr(html, "<script"));
  cr_assert_null(strstr(html, "<link"));
  cr_assert_null(strstr(html, "src=\"http"), "self-contained: no external image");
  cr_assert_null(strstr(html, "<pid"), "error text escaped");
  /* the embedded PNG: decode the base64 and read the IHDR */
  const char *b = strstr(html, "src=\"data:image/png;base64,");
  cr_assert_not_null(b);
  b += strlen("src=\"data:image/png;base64,");
  const char *e = strchr(b, '"');
  cr_assert_not_null(e);
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n64 = (size_t)(e - b), n = 0;
  cr_assert_eq(n64 % 4, 0, "base64 comes in groups of 4");
  unsigned char *png = malloc(n64);
  for (size_t i = 0; i < n64; i += 4) {
    unsigned v = 0;
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      const char *c = b[i + k] == '=' ? NULL : strchr(tab, b[i + k]);
      cr_assert(b[i + k] == '=' || (c && *c), "not base64 at %zu", i + k);
      pad += !c;
      v = v << 6 | (c ? (unsigned)(c - tab) : 0);
    }
    png[n++] = (unsigned char)(v >> 16);
    if (pad < 2) png[n++] = (unsigned char)(v >> 8);
    if (pad < 1) png[n++] = (unsigned char)v;
  }
  cr_assert_gt(n, 1000);
  cr_assert_eq(memcmp(png, "\x89PNG\r\n\x1a\n", 8), 0, "a PNG signature");
  cr_assert_eq(memcmp(png + 12, "IHDR", 4), 0);
  unsigned w = (unsigned)png[16] << 24 | png[17] << 16 | png[18] << 8 | png[19];
  unsigned h = (unsigned)png[20] << 24 | png[21] << 16 | png[22] << 8 | png[23];
  cr_assert(w == 1000 && h == 600, "embedded PNG is %ux%u", w, h);
  /* the same bytes as report.png */
  char *file = slurp("report.png");
  cr_assert_eq(memcmp(file, png, n), 0);
  free(file);
  free(png);
  free(html);

  char *json = slurp("summary.json");
  dump_on_fail("summary.json", json, "\"method\": \"full\", \"status\": \"done\"");
  dump_on_fail("summary.json", json, "\"error\": \"o2o-sim <pid 7> died & the pool gave up\"");
  free(json);
}

Test(report, a_partial_run_names_missing_and_running_jobs_and_out_dir_works) {
  make_run("1-1,2,3"); /* seed 3 never started */
  char p[600];
  snprintf(p, sizeof p, "%s/full/seed2/DONE", dir);
  cr_assert_eq(unlink(p), 0); /* full/seed2 still running */
  o2o_report_options o;
  o2o_report_options_default(&o);
  char out[600], err[1024] = "";
  snprintf(out, sizeof out, "%s/rep/x", dir);
  o.out_dir = out;
  cr_assert_eq(o2o_report_write(dir, &o, err, sizeof err), 0, "%s", err);
  char *csv = slurp("rep/x/summary.csv");
  cr_assert(has_line(csv, "full,3,missing,,,,,0,,,,,,,,,,,0,0,,,,,,"), "%s", csv);
  cr_assert(has_line(csv, "offline,3,missing,,,,,0,,,,,,,,,,,0,0,,,,,,"),
            "the pretrain is expected: %s", csv);
  cr_assert(strstr(csv, "\nfull,2,running,"), "%s", csv);
  cr_assert(strstr(csv, "\nfull,all,partial,1,0,1,1,"), "%s", csv);
  free(csv);
  char *html = slurp("rep/x/report.html");
  dump_on_fail("report.html", html, "full/seed3: not started");
  dump_on_fail("report.html", html, "full/seed2: running or interrupted");
  dump_on_fail("report.html", html, "Jobs: 4 of 9 done, <span class=failed>1 failed</span>");
  dump_on_fail("report.html", html, "<span class=warn>4 not finished</span>");
  free(html);
  snprintf(p, sizeof p, "%s/summary.csv", dir);
  cr_assert_neq(access(p, F_OK), 0, "nothing written into the run folder with --out");
}

Test(report, bad_input_names_the_folder_the_file_and_the_line) {
  char err[1024] = "";
  o2o_report_options o;
  o2o_report_options_default(&o);
  cr_assert_neq(o2o_report_write(dir, &o, err, sizeof err), 0, "an empty folder");
  cr_assert(strstr(err, dir) && strstr(err, "not a run folder"), "%s", err);
  char p[600];
  snprintf(p, sizeof p, "%s/none", dir);
  cr_assert_neq(o2o_report_write(p, &o, err, sizeof err), 0);
  cr_assert(strstr(err, "not a directory"), "%s", err);

  make_run("1,2");
  put("full/seed2/metrics.csv", ON_HDR "500,1,290,1,5,0\n1000,2,abc,1,5,0\n");
  cr_assert_neq(o2o_report_write(dir, &o, err, sizeof err), 0);
  cr_assert(strstr(err, "full/seed2/metrics.csv:3:") && strstr(err, "'abc'") &&
                strstr(err, "eval_return_mean"),
            "%s", err);
  put("full/seed2/metrics.csv", ON_HDR "500,1,290,1,5,0\n1000,2\n");
  cr_assert_neq(o2o_report_write(dir, &o, err, sizeof err), 0);
  cr_assert(strstr(err, "full/seed2/metrics.csv:3: 2 fields, the header has 6"), "%s", err);
  put("full/seed2/metrics.csv", "step,wall_s,return\n500,1,290\n");
  cr_assert_neq(o2o_report_write(dir, &o, err, sizeof err), 0);
  cr_assert(strstr(err, "metrics.csv:1: no column 'eval_return_mean'"), "%s", err);
  /* a row being written (no newline yet) is not an error: it is not a row yet */
  put("full/seed2/metrics.csv", ON_HDR "500,1,290,1,5,0\n1000,2,3");
  cr_assert_eq(o2o_report_write(dir, &o, err, sizeof err), 0, "%s", err);
  put("gap.json", "{\"mean_std_units\": [0.1, 0.2], \"overall_mean_std\": }");
  cr_assert_neq(o2o_report_write(dir, &o, err, sizeof err), 0);
  cr_assert(strstr(err, "gap.json: not a JSON object (error at byte 51)"), "%s", err);
  put("gap.json", "{\"dataset\": \"d.hdf5\", \"mean_std_units\": [0.1, 0.2], "
                  "\"p95_std_units\": [0.3, 0.4], \"overall_mean_std\": 0.15}");
  cr_assert_eq(o2o_report_write(dir, &o, err, sizeof err), 0, "%s", err);
  char *html = slurp("report.html");
  dump_on_fail("report.html", html, "<b>0.150</b> dataset stds");
  dump_on_fail("report.html", html, "<tr><td>1</td><td>0.2000</td><td>0.4000</td></tr>");
  free(html);
}

Test(
    report,
    without_its_offline_job_the_pretrained_score_is_the_step_0_evaluation_and_the_dip_waits_for_updates) {
  make_run("1-2");
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s/offline/seed1'", dir);
  cr_assert_eq(system(cmd), 0);
  put("full/seed1/metrics.csv", ON_HDR "0,0,195,1,5,0\n500,1,190,1,5,0\n1000,2,200,1,5,0\n"
                                       "1500,3,180,1,5,0\n2000,4,260,1,5,0\n2500,5,250,1,5,0\n");
  o2o_report_options o;
  o2o_report_options_default(&o);
  char err[1024] = "";
  cr_assert_eq(o2o_report_write(dir, &o, err, sizeof err), 0, "%s", err);
  char *csv = slurp("summary.csv");
  cr_assert(strstr(csv, "\noffline,1,missing,"), "%s", csv);
  cr_assert(strstr(csv, ",195.0000,180.0000,0.9231,0,0,10.5,"), "%s", csv);
  free(csv);
  /* with an updates column: the first evaluation once updates began (2000), not at 1500 */
  put("full/seed2/metrics.csv", "step,wall_s,eval_return_mean,updates\n0,0,300,0\n1000,2,300,0\n"
                                "1500,3,330,0\n2000,4,310,500\n2500,5,350,1000\n");
  cr_assert_eq(o2o_report_write(dir, &o, err, sizeof err), 0, "%s", err);
  csv = slurp("summary.csv");
  cr_assert(strstr(csv, ",300.0000,310.0000,1.0333,0,1,20.0,"), "%s", csv);
  free(csv);
}

/* ---- the offline benchmark's folder: <dataset>-<algo>/offline/seed<k>/ of o2o train-offline,
 * no experiment.ini, no DONE (final.safetensors marks a finished run) ---- */

#define IQL_HDR                                                                                    \
  OFF_HDR_NO_NL ",value_loss,actor_loss,critic_loss,q_mean,v_mean,adv_mean,weight_mean,"           \
                "actor_lr\n"
#define OFF_HDR_NO_NL                                                                              \
  "step,wall_s,eval_return_mean,eval_return_std,eval_return_min,eval_return_max,"                  \
  "eval_episodes,d4rl_score,updates_per_s"
#define IQL_TAIL ",0.01,0.8,0.03,2.0,1.0,-0.01,0.97,0.0003\n"

/* A warm-started job with critic-only updates (actor_delay): its dip is read at the first
 * evaluation once the actor learns (more updates than actor_delay), not at the first one
 * after K, while the actor is still the pretrained one. */
Test(report, the_dip_waits_for_the_critic_only_updates) {
  make_run("1");
  put("full/seed1/config.json", "{\"algorithm\": \"h2o\", \"task\": \"pendulum\", "
                                "\"h2o\": {\"hidden\": 64, \"actor_delay\": 600}}\n");
  put("full/seed1/metrics.csv", "step,wall_s,eval_return_mean,eval_return_std,updates\n"
                                "500,1,200,1,0\n1000,2,200,1,0\n1500,3,200,1,500\n"
                                "2000,4,90,1,1000\n2500,5,250,1,1500\n");
  o2o_report_options o;
  o2o_report_options_default(&o);
  char err[1024] = "";
  cr_assert_eq(o2o_report_write(dir, &o, err, sizeof err), 0, "%s", err);
  char *csv = slurp("summary.csv");
  /* pretrained 200 (offline/seed1's last eval), first after = 90 at step 2000: ratio 0.45 */
  cr_assert(strstr(csv, "\nfull,1,done,,,,,5,2500,250.0000,,250.0000,,,,200.0000,90.0000,0.4500,"),
            "%s", csv);
  free(csv);
  char *html = slurp("report.html");
  dump_on_fail("report.html", html, "<th>critic-only updates</th>");
  /* the 600 critic-only updates end between the evaluations at 1500 (500 updates) and 2000
   * (1000): at env step 1600; the plot shades K..1600 as that phase */
  dump_on_fail("report.html", html, "<td>600</td><td>1600</td>");
  free(html);
}

/* config.json as train-offline writes it (the keys the report reads, and some it does not) */
static void put_config(const char *group, int seed, const char *algo, const char *task) {
  char rel[300], text[900];
  snprintf(rel, sizeof rel, "%s/offline/seed%d/config.json", group, seed);
  snprintf(text, sizeof text,
           "{\n  \"command\": \"train-offline\",\n  \"command_line\": [\"o2o\", \"train-offline\"],"
           "\n  \"algorithm\": \"%s\",\n  \"dataset\": \"/x/hopper-medium.hdf5\",\n  \"scenario\": "
           "\"%s\",\n  \"task\": \"%s\",\n  \"seed\": %d, \"steps\": 10000, \"eval_every\": 5000,"
           "\n  \"dataset_transitions\": 200000, \"dataset_episodes\": 459, "
           "\"dataset_return_mean\": 1332.5, \"reward_scale\": 1, \"normalize_obs\": 1,\n  "
           "\"%s\": {\"hidden\": 256}\n}\n",
           algo, task, task, seed, algo);
  put(rel, text);
}

/* hopper-medium: iql 2 seeds done, cql seed1 running and seed2 failed; pendulum-medium: iql
 * one seed done (no D4RL reference: returns). A report.png of an earlier report lies there. */
static void make_bench(void) {
  put_config("hopper-medium-iql", 1, "iql", "hopper");
  put("hopper-medium-iql/offline/seed1/metrics.csv",
      IQL_HDR "5000,10,1000,50,900,1100,10,30.5,90" IQL_TAIL "10000,20,1500,50,1400,1600,10,46,"
              "90" IQL_TAIL);
  put("hopper-medium-iql/offline/seed1/final.safetensors", "");
  put_config("hopper-medium-iql", 2, "iql", "hopper");
  put("hopper-medium-iql/offline/seed2/metrics.csv",
      IQL_HDR "5000,15,1800,50,1700,1900,10,55.9,90" IQL_TAIL "10000,30,1300,50,1200,1400,10,"
              "40.6,90" IQL_TAIL);
  put("hopper-medium-iql/offline/seed2/final.safetensors", "");
  put("hopper-medium-iql/offline/seed2/checkpoint.safetensors", "");
  put_config("hopper-medium-cql", 1, "cql", "hopper");
  put("hopper-medium-cql/offline/seed1/metrics.csv",
      OFF_HDR "5000,40,900,5,0,0,10,28,20\n10000,80,9");             /* a row being written */
  put("hopper-medium-cql/offline/seed1/checkpoint.safetensors", ""); /* running */
  put_config("hopper-medium-cql", 2, "cql", "hopper");
  put("hopper-medium-cql/offline/seed2/metrics.csv", OFF_HDR "5000,40,500,5,0,0,10,16,20\n");
  put("hopper-medium-cql/offline/seed2/FAILED", "{\"error\": \"loss is <nan>\"}\n");
  put_config("pendulum-medium-iql", 1, "iql", "pendulum");
  put("pendulum-medium-iql/offline/seed1/metrics.csv",
      OFF_HDR "500,1,200,5,0,0,3,,90\n1000,2,560,5,0,0,3,,90\n");
  put("pendulum-medium-iql/offline/seed1/DONE", "{\"wall_s\": 4}\n");
  put("report.png", "not a folder");
}

static double d4(double ret) {
  double v;
  cr_assert(o2o_train_d4rl_score("hopper", ret, &v));
  return v;
}

Test(report, an_offline_benchmark_folder_gives_scores_per_dataset_and_algo) {
  make_bench();
  o2o_report_options o;
  o2o_report_options_default(&o);
  char jpath[600], err[1024] = "";
  snprintf(jpath, sizeof jpath, "%s/summary.json", dir);
  o.json = fopen(jpath, "w");
  cr_assert_eq(o2o_report_write(dir, &o, err, sizeof err), 0, "%s", err);
  fclose(o.json);
  char *csv = slurp("summary.csv");
  cr_assert(strncmp(csv, "dataset,algo,seed,status,", 25) == 0, "%s", csv);
  /* iql: finals 1500, 1300 (mean 1400, std 100); bests 1500, 1800 (1650, 150); the D4RL std
   * over the seeds' scores; wall time from the last rows (20 + 30 s) */
  char l[5][512];
  snprintf(l[0], sizeof l[0],
           "hopper-medium,iql,all,done,2,0,0,,10000,1400.0000,100.0000,1650.0000,150.0000,%.3f,"
           "%.3f,%.3f,%.3f,1332.5000,%.3f,50.0",
           d4(1400), (d4(1500) - d4(1300)) / 2, d4(1650), (d4(1800) - d4(1500)) / 2, d4(1332.5));
  snprintf(l[1], sizeof l[1],
           "hopper-medium,iql,2,done,,,,2,10000,1300.0000,,1800.0000,,%.3f,,%.3f,,1332.5000,%.3f,"
           "30.0",
           d4(1300), d4(1800), d4(1332.5));
  /* cql: the failed seed is listed, not aggregated; the running one is, as it stands */
  snprintf(l[2], sizeof l[2],
           "hopper-medium,cql,all,partial,0,1,1,,5000,900.0000,0.0000,900.0000,0.0000,%.3f,0.000,"
           "%.3f,0.000,1332.5000,%.3f,80.0",
           d4(900), d4(900), d4(1332.5));
  snprintf(l[3], sizeof l[3], "hopper-medium,cql,2,failed,,,,1,5000,500.0000,,500.0000,,%.3f,,",
           d4(500));
  snprintf(l[4], sizeof l[4],
           "pendulum-medium,iql,all,done,1,0,0,,1000,560.0000,0.0000,560.0000,0.0000,,,,,"
           "1332.5000,,4.0");
  for (int i = 0; i < 5; i++)
    cr_assert(i == 3 ? strstr(csv, l[i]) != NULL : has_line(csv, l[i]),
              "summary.csv lacks\n%s\nit is:\n%s", l[i], csv);
  cr_assert(strstr(csv, "\nhopper-medium,cql,1,running,,,,1,5000,900.0000,"), "%s", csv);
  /* datasets by name, algorithms by name within one */
  cr_assert(strstr(csv, "\nhopper-medium,cql,") < strstr(csv, "\nhopper-medium,iql,") &&
            strstr(csv, "\nhopper-medium,iql,") < strstr(csv, "\npendulum-medium,iql,"));
  free(csv);
  char *html = slurp("report.html");
  dump_on_fail("report.html", html, "<h2>hopper-medium</h2>");
  char row[300];
  snprintf(row, sizeof row, "<td><b>%.1f &plusmn; %.1f</b></td><td><b>%.1f &plusmn; %.1f</b></td>",
           d4(1400), (d4(1500) - d4(1300)) / 2, d4(1650), (d4(1800) - d4(1500)) / 2);
  dump_on_fail("report.html", html, row);
  dump_on_fail("report.html", html,
               "<code>hopper-medium-cql/offline/seed2</code>: <span "
               "class=failed>failed</span>: <code>loss is &lt;nan&gt;");
  dump_on_fail("report.html", html,
               "hopper-medium-cql/offline/seed1</code>: running or "
               "interrupted at step 5000");
  dump_on_fail("report.html", html, "Runs: 3 of 5 done, <span class=failed>1 failed</span>");
  free(html);
  char *json = slurp("summary.json");
  dump_on_fail("summary.json", json, "{\"algo\": \"iql\", \"status\": \"done\", \"seeds_done\": 2");
  free(json);
  char *png = slurp("report.png");
  cr_assert_eq(memcmp(png, "\x89PNG\r\n\x1a\n", 8), 0, "report.png replaced by a PNG");
  unsigned w = (unsigned)png[16] << 24 | (unsigned char)png[17] << 16 |
               (unsigned char)png[18] << 8 | (unsigned char)png[19];
  cr_assert_eq(w, 1200, "two panels of 600 px: %u", w);
  free(png);

  /* one group: only its rows */
  char group[600];
  snprintf(group, sizeof group, "%s/hopper-medium-iql", dir);
  cr_assert_eq(o2o_report_write(group, NULL, err, sizeof err), 0, "%s", err);
  csv = slurp("hopper-medium-iql/summary.csv");
  cr_assert(has_line(csv, l[0]), "%s", csv);
  cr_assert_null(strstr(csv, ",cql,"), "%s", csv);
  free(csv);
}

/* an o2o run folder whose only jobs so far are offline/seed<k> is still a run report with its
 * experiment.ini; without one it is one group of train-offline runs */
Test(report, offline_jobs_alone_are_a_run_with_experiment_ini_else_a_benchmark_group) {
  make_run("1-2");
  char cmd[800];
  snprintf(cmd, sizeof cmd, "cd '%s' && rm -rf full sac-sim", dir);
  cr_assert_eq(system(cmd), 0);
  char err[1024] = "";
  cr_assert_eq(o2o_report_write(dir, NULL, err, sizeof err), 0, "%s", err);
  char *csv = slurp("summary.csv");
  cr_assert(strncmp(csv, "method,seed,", 12) == 0, "%s", csv);
  free(csv);
  snprintf(cmd, sizeof cmd, "rm '%s/experiment.ini'", dir);
  cr_assert_eq(system(cmd), 0);
  cr_assert_eq(o2o_report_write(dir, NULL, err, sizeof err), 0, "%s", err);
  csv = slurp("summary.csv");
  cr_assert(strncmp(csv, "dataset,algo,", 13) == 0, "%s", csv);
  /* the folder's name has no '-': dataset = the name, algorithm = "offline" (no config.json);
   * the dataset mean from the DONE files o2o run writes */
  cr_assert(strstr(csv, ",offline,all,done,2,0,0,,1000,250.0000,50.0000,250.0000,50.0000,,,,,"
                        "120.0000,,5.0\n"),
            "%s", csv);
  free(csv);
}
