/* report_assets: the report page's script and style sheet, compiled in from report.js and report.css. */
#ifndef HOUND_REPORT_ASSETS_H
#define HOUND_REPORT_ASSETS_H

extern const char report_asset_js[];
extern const char report_asset_css[];

#endif
