"""The screen's reply texts (the Plugin's replies, joined into the one catalogue, bot/catalogue.py)."""

REPLIES: dict[str, dict[str, str]] = {
    "screen_how": {
        "zh": "投屏步骤：\n1. 在教室电脑的浏览器打开 {address}，屏幕上会显示 6 位投屏码；\n2. 用手机发送「投屏 <投屏码>」，2 秒内那台电脑就显示当前课堂。\n发送「结束投屏」结束。",
        "en": "To put the class on a screen:\n1. open {address} in the classroom PC's browser; it shows a 6-digit code;\n2. send “screen <code>” from your phone; within 2 s that browser shows the current class.\nSend “end screen” to stop.",
    },
    "screen_second_poller": {
        "zh": "注意：「{name}」的投屏正被另一个网络（{address}）读取，已拒绝。教室电脑照常显示。如果不是你本人，可能有人复制了教室电脑上的投屏页面：发送「结束投屏」，再在教室电脑上重新「投屏」。",
        "en": "Note: the screen of “{name}” was read from another network ({address}) and refused; the classroom PC goes on showing it. If that was not you, someone may have copied the classroom PC's screen page: send “end screen”, then pair the classroom PC again.",
    },
    "screen_is_on": {"zh": "「{name}」正在投屏。", "en": "“{name}” is on a screen now."},
    "screen_is_off": {"zh": "「{name}」现在没有投屏。", "en": "“{name}” is not on a screen now."},
    "screen_code_unknown": {
        "zh": "投屏码 {code} 不对或已过期（{minutes} 分钟有效，只能用一次）。请看教室屏幕上的投屏码，或刷新 {address} 获取新码。",
        "en": "Screen code {code} is wrong or expired (valid {minutes} min, single use). Read the code on the classroom screen, or reload {address} for a new one.",
    },
    "screen_paired": {
        "zh": "已投屏：屏幕正在显示「{name}」。开启签到后屏幕显示每 {seconds} 秒更换的签到二维码和口令，学生扫码或发送口令签到。下课 15 分钟后或发送「结束投屏」结束。",
        "en": "On screen: the screen now shows “{name}”. Once you open a check-in it shows a QR code and a code that change every {seconds} s; students scan it or send the code. It ends 15 minutes after the lesson, or send “end screen”.",
    },
    "screen_ended": {"zh": "已结束投屏，屏幕回到投屏码页面。", "en": "The screen is off; it shows a new pairing code again."},
    "screen_ended_checkin_open": {
        "zh": "注意：正在进行的签到只认屏幕上的口令，现在没有屏幕就无法签到。请发送「结束」，再「开启签到」（没有投屏时学生发送「签到」即可）。",
        "en": "Note: the check-in that is open takes only the screen's code, so without a screen nobody can check in. Send “close”, then “open checkin” again (without a screen students just send “check in”).",
    },
    "screen_none": {"zh": "你现在没有投屏。发送「投屏」查看步骤。", "en": "You have no screen on. Send “screen” for the steps."},
    "screen_no_discussion": {"zh": "「{name}」本节课还没有讨论。", "en": "“{name}” has no discussion in this lesson."},
    "screen_no_such_post": {"zh": "没有第 {n} 条发言（共 {total} 条）。屏幕上每条发言前有序号。", "en": "There is no post {n} ({total} in all). Each post on the screen shows its number."},
    "screen_post_hidden": {"zh": "第 {n} 条发言已从屏幕上隐藏（「结果」里仍可看到）。", "en": "Post {n} is hidden from the screen (you still see it in “results”)."},
    "screen_code_expired": {
        "zh": "这个口令已过期（屏幕上的口令每 {seconds} 秒更换），不算错误次数。屏幕上现在的口令还有 {left} 秒有效：请发送现在的口令，或用菜单「签到」扫屏幕上的二维码。签到 {at} 截止。",
        "en": "That code has expired (the code on the screen changes every {seconds} s); it does not count as a wrong try. The code on screen now is valid for {left} more s: send it, or scan the screen's QR with the menu's “check in”. Check-in closes at {at}.",
    },
    "screen_qr_expired": {
        "zh": "这个签到二维码已过期：屏幕上的二维码每 {seconds} 秒更换，现在的还有 {left} 秒有效。请扫描屏幕上现在的二维码，或发送屏幕上的口令。签到 {at} 截止。",
        "en": "That check-in QR code has expired: the one on the screen changes every {seconds} s, the current one for {left} more s. Scan the QR code on the screen now, or send the code shown. Check-in closes at {at}.",
    },
    "screen_not_checkin_qr": {
        "zh": "这不是有效的签到二维码。请扫描教室屏幕上正在显示的签到二维码。",
        "en": "That is not a valid check-in QR code. Scan the check-in QR code on the classroom screen now.",
    },
    "screen_scan_name": {"zh": "签到（扫码）", "en": "check in (scan)"},
    "stale_codes": {
        "zh": "过期签到码：{n} 次（{people} 人）。其中 {later} 人随后签到成功（多是输入慢）；{never} 人始终没有签到——可能有人把屏幕上的码转发给了不在场的同学。",
        "en": "Expired screen codes tried: {n} ({people} {people|person|people}). {later} then checked in (usually slow typing); {never} never did: someone may have relayed the code to students who are not here.",
    },
    "screen_checkin_note": {
        "zh": "\n正在投屏：只有屏幕上每 {seconds} 秒更换的二维码或口令能签到（不再生成固定签到码），学生扫码或发送屏幕上的口令。",
        "en": "\nOn screen: only the QR code or code on the screen, changing every {seconds} s, checks in (no fixed code is made); students scan it or send the code shown.",
    },
    "screen_paired_checkin_open": {
        "zh": "正在进行的签到从现在起也只认屏幕上每 {seconds} 秒更换的二维码和口令；之前的固定签到码和不带码的「签到」不再有效。",
        "en": "The check-in that is open now also takes only the screen's QR code or code (changing every {seconds} s) from now on; a fixed code or a plain “check in” no longer works.",
    },
    "screen_scan_not_member": {
        "zh": "你还不是「{name}」的学生：签到二维码不能用来加入课堂。请先用屏幕上的课堂码发送「加入 <课堂码>」，再扫码签到。",
        "en": "You are not a student of “{name}”: a check-in QR code does not join a class. Send “join <class code>” with the code on the screen first, then scan again.",
    },
    "wall_review_on": {
        "zh": "「{name}」的讨论墙已开启审核：新发言先不上屏。发送「结果」查看（待审的标【待审】），「通过 <n>」或「通过 全部」放上屏幕；「审核 关」关闭。",
        "en": "Approval is on for “{name}”: new posts stay off the screen. Send “results” to read them (waiting ones are marked [waiting]), “show post <n>” or “show post all” to put them up; “review off” to stop.",
    },
    "wall_review_off": {
        "zh": "「{name}」的讨论墙已关闭审核：新发言直接上屏。仍有 {n} 条待审，发送「通过 全部」放上屏幕。",
        "en": "Approval is off for “{name}”: new posts go straight to the screen. {n} still wait: send “show post all” to put them up.",
    },
    "wall_not_pending": {
        "zh": "第 {n} 条发言不在待审中。发送「结果」查看标【待审】的发言。",
        "en": "Post {n} is not waiting for approval. Send “results” to see the posts marked [waiting].",
    },
    "wall_approved": {"zh": "第 {n} 条发言已通过，屏幕上显示。", "en": "Post {n} is approved: the screen shows it."},
    "wall_approved_all": {"zh": "已通过 {n} 条待审发言，屏幕上显示。", "en": "{n} waiting {n|post|posts} approved: the screen shows them."},
    "missing_on_screen": {
        "zh": "屏幕上只显示未到人数（不显示姓名），{minutes} 分钟或下一个活动开始后恢复。",
        "en": "The screen shows only how many are missing (no names) for {minutes} {minutes|minute|minutes} or until the next activity.",
    },
    "cloud_shown": {
        "zh": "屏幕显示「{topic}」的词云（讨论：发言里的词；问卷：结束后按票数显示选项；不显示是谁写的）；新活动开始后换成新活动。",
        "en": "The screen shows a word cloud of “{topic}” (a discussion: the posts' words; a survey: once closed, its options sized by votes; never who) until the next activity.",
    },
    "cloud_needs_discussion": {
        "zh": "「{name}」最近的活动不是讨论或问卷：词云用于讨论和问卷；填空题结束后屏幕自动显示词云。",
        "en": "“{name}”'s latest activity is not a discussion or survey: the word cloud is for those; a fill-in quiz shows one by itself once it closes.",
    },
    "cloud_fill_quiz": {
        "zh": "填空题结束后屏幕自动显示答案的词云；发送「结束」提前结束。",
        "en": "A fill-in quiz shows its answers as a word cloud by itself once it closes; send “close” to close it now.",
    },
}
