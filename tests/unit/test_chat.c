/* test_chat.c: chat template recognition and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_chat.h"
#include "zt_test.h"

static const struct zt_chat_msg conv[] = {
    {"system", "Be brief."},
    {"user", "Hi"},
    {"assistant", "Hello!"},
    {"user", "How are you?"},
};

static void check(enum zt_chat_tmpl t, const char *want)
{
    struct zt_buf b;
    zt_buf_init(&b, 4096);
    assert_int_equal(zt_chat_format(t, conv, 4, true, &b), 0);
    assert_string_equal(zt_buf_str(&b), want);
    zt_buf_deinit(&b);
}

static void test_formats(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    check(ZT_CHAT_CHATML, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                          "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n"
                          "<|im_start|>assistant\n");
    check(ZT_CHAT_LLAMA3, "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                          "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                          "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
                          "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
                          "<|start_header_id|>assistant<|end_header_id|>\n\n");
    check(ZT_CHAT_ZEPHYR, "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n"
                          "<|user|>\nHow are you?</s>\n<|assistant|>\n");
    check(ZT_CHAT_LLAMA2, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] How are you? [/INST]");
    check(ZT_CHAT_MISTRAL, "[INST]Be brief.\n\nHi[/INST]Hello!</s>[INST]How are you?[/INST]");
    assert_int_equal(zt_alloc_live(), live);
}

static void test_detect(void **state)
{
    (void)state;
    bool fb;
    assert_int_equal(zt_chat_detect("{% for m in messages %}<|im_start|>{{m.role}}", &fb), ZT_CHAT_CHATML);
    assert_false(fb);
    assert_int_equal(zt_chat_detect("<|start_header_id|>' + message['role']", &fb), ZT_CHAT_LLAMA3);
    assert_int_equal(zt_chat_detect("'<|user|>\\n' + message['content']", &fb), ZT_CHAT_ZEPHYR);
    assert_int_equal(zt_chat_detect("[INST] <<SYS>>\\n", &fb), ZT_CHAT_LLAMA2);
    assert_int_equal(zt_chat_detect("bos_token + '[INST] ' + content", &fb), ZT_CHAT_MISTRAL);
    assert_int_equal(zt_chat_detect("{{ something unknown }}", &fb), ZT_CHAT_CHATML);
    assert_true(fb);
    assert_int_equal(zt_chat_detect(NULL, &fb), ZT_CHAT_CHATML);
    assert_true(fb);
    enum zt_chat_tmpl t;
    assert_int_equal(zt_chat_parse_name("llama3", &t), 0);
    assert_int_equal(t, ZT_CHAT_LLAMA3);
    assert_int_equal(zt_chat_parse_name("vicuna", &t), ZT_EINVAL);
    assert_string_equal(zt_chat_name(ZT_CHAT_ZEPHYR), "zephyr");
}

static void test_bad_role_and_limit(void **state)
{
    (void)state;
    struct zt_buf b;
    zt_buf_init(&b, 16);
    const struct zt_chat_msg bad[] = {{"tool", "x"}};
    assert_int_equal(zt_chat_format(ZT_CHAT_CHATML, bad, 1, true, &b), ZT_EINVAL);
    assert_int_equal(zt_chat_format(ZT_CHAT_CHATML, conv, 4, true, &b), ZT_ETOOBIG);
    zt_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_bad_role_and_limit),
    };
    return zt_test_exit(cmocka_run_group_tests_name("chat", tests, NULL, NULL));
}
