/* SPDX-License-Identifier: ISC */
/* httpdate.c -- HTTP dates to seconds, the usual form without sscanf. */
#include <string.h>

#include <curl/curl.h>

#include "httpdate.h"

/* 0-99 from the two digits at p, or -1. */
static int
two_digits(const char *p)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* The month Jan..Dec at p as 0..11, or -1 (exactly as the form writes
 * them: any other spelling is curl_getdate's to judge). */
static int
month_of(const char *p)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int m = 0; m < 12; m++)
		if (memcmp(p, months + 3 * m, 3) == 0)
			return m;
	return -1;
}

static int
weekday_ok(const char *p)
{
	static const char days[] = "MonTueWedThuFriSatSun";

	for (int d = 0; d < 7; d++)
		if (memcmp(p, days + 3 * d, 3) == 0)
			return 1;
	return 0;
}

/* Days from 1970-01-01 to the date y-m-d (m 1..12), for the Gregorian
 * calendar (the civil-from-days inverse in Hinnant's "chrono-Compatible
 * Low-Level Date Algorithms"). */
static long long
days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
days_in_month(int y, int m)
{
	static const unsigned char n[12] = {31, 28, 31, 30, 31, 30,
					    31, 31, 30, 31, 30, 31};

	if (m == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return n[m];
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" and nothing else (no spaces around,
 * nothing after): its time, or -1. Years from 1970 to 9999 only; a date
 * out of range (31 Feb, 24:00:00) is left to curl_getdate as well. */
static time_t
fixdate(const char *s)
{
	int day, mon, y1, y2, hh, mm, ss;

	if (strlen(s) != 29 || !weekday_ok(s) || s[3] != ',' || s[4] != ' ' ||
	    s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
	    s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
		return -1;
	day = two_digits(s + 5);
	mon = month_of(s + 8);
	y1 = two_digits(s + 12);
	y2 = two_digits(s + 14);
	hh = two_digits(s + 17);
	mm = two_digits(s + 20);
	ss = two_digits(s + 23);
	if (day < 1 || mon < 0 || y1 < 0 || y2 < 0 || hh < 0 || hh > 23 ||
	    mm < 0 || mm > 59 || ss < 0 || ss > 59 || y1 * 100 + y2 < 1970 ||
	    day > days_in_month(y1 * 100 + y2, mon))
		return -1;
	return (time_t)(days_from_civil(y1 * 100 + y2, mon + 1, day) * 86400 +
			hh * 3600 + mm * 60 + ss);
}

time_t
httpdate_parse(const char *s)
{
	time_t t = fixdate(s);

	return t >= 0 ? t : curl_getdate(s, NULL);
}
